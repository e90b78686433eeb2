"""The mapping language: schema, loader problems (with exact lines), renderer, preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connector.model import Author, Customer, Interaction, Triage
from mappings import (
    SHIPPED_MAPPINGS,
    FieldSpec,
    Mapping,
    MappingError,
    RenderError,
    build_context,
    load_mapping,
    load_mapping_text,
    preview,
    render_fields,
    resolve_mapping_path,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mappings"
LOCAL_FIELDS = [
    "subject",
    "description",
    "priority",
    "channel",
    "language",
    "permalink",
    "origin",
    "customer_id",
]


def problems_of(path: Path) -> list[str]:
    """Load a mapping that must fail, and return its problems."""
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    return caught.value.problems


def make_interaction(**overrides: Any) -> Interaction:
    author = Author(platform="x", platform_user_id="6253282", handle="marta_rg", display_name="Marta Ruiz")
    values: dict[str, Any] = {
        "platform": "x",
        "kind": "mention",
        "external_id": "1798450071234567890",
        "thread_key": "x:2244994945:1798450071234567890",
        "brand_account_id": "2244994945",
        "author": author,
        "text": "@acme where is my order?",
        "created_at": datetime(2024, 6, 1, 9, 30, tzinfo=UTC),
        "language": "en",
        "permalink": "https://x.com/marta_rg/status/1798450071234567890",
        "raw": {"secret": "platform payload"},
    }
    values.update(overrides)
    return Interaction(**values)


def make_triage(**overrides: Any) -> Triage:
    values: dict[str, Any] = {
        "nature": "complaint",
        "sentiment": "negative",
        "risk": 0.4,
        "influence": 0.2,
        "value_score": 0.5,
        "priority": "P2",
        "sla_due_at": datetime(2024, 6, 1, 13, 30, tzinfo=UTC),
        "channel": "private",
        "crisis": False,
    }
    values.update(overrides)
    return Triage(**values)


def context_for(
    interaction: Interaction | None = None,
    customer: Customer | None = None,
    triage: Triage | None = None,
) -> dict[str, Any]:
    chosen = interaction or make_interaction()
    return build_context(chosen, chosen.author, customer, triage or make_triage(), "support")


def mapping_with(fields: dict[str, str], writable: list[str] | None = None) -> Mapping:
    """Build a mapping from YAML snippets, one per field, through the real loader."""
    body = "".join(f"  {name}: {spec}\n" for name, spec in fields.items())
    text = (
        "version: 1\nconnector: local\nobject: ticket\n"
        f"fields:\n{body}"
        "status_map: {open: [open], resolved: [resolved]}\n"
        f"writable_fields: {json.dumps(writable if writable is not None else list(fields))}\n"
    )
    return load_mapping_text(text, "inline.yaml")


def render_one(spec: str, context: dict[str, Any] | None = None) -> Any:
    return render_fields(mapping_with({"f": spec}), context or context_for())["f"]


# --- the schema itself ------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("mappings").joinpath("schema.json").read_text("utf-8"))
    return data


def _subschemas(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object in the document that describes a value (properties, items, $defs)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            found += [
                (f"{where}/properties/{name}", child),
                *_subschemas(child, f"{where}/properties/{name}"),
            ]
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict) and "$ref" not in node[key]:
                found += [(f"{where}/{key}", node[key]), *_subschemas(node[key], f"{where}/{key}")]
        for name, child in node.get("$defs", {}).items():
            found += [(f"{where}/$defs/{name}", child), *_subschemas(child, f"{where}/$defs/{name}")]
    return found


def test_schema_is_valid_draft_2020_12() -> None:
    schema = _schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    version = schema["properties"]["version"]
    assert (version["type"], version["const"]) == ("integer", 1)
    assert "version" in schema["required"]


def test_every_property_has_title_description_and_examples() -> None:
    missing = [
        where for where, sub in _subschemas(_schema()) if not {"title", "description", "examples"} <= set(sub)
    ]
    assert missing == []


def test_every_object_with_properties_forbids_other_keys() -> None:
    schema = _schema()
    objects = [("#", schema), *_subschemas(schema)]
    open_objects = [
        where
        for where, sub in objects
        if "properties" in sub and sub.get("additionalProperties") is not False
    ]
    assert open_objects == []


# --- loading ---------------------------------------------------------------------------


def test_shipped_local_mapping_validates() -> None:
    mapping = load_mapping("local.yaml")
    assert (mapping.connector, mapping.object) == ("local", "ticket")
    assert list(mapping.fields) == LOCAL_FIELDS
    assert list(mapping.writable_fields) == LOCAL_FIELDS
    assert mapping.status_map == {
        "open": ("open", "new", "pending"),
        "resolved": ("resolved",),
        "closed": ("closed",),
    }
    assert (mapping.lifecycle_policy, mapping.reopen_window_days) == ("reopen", None)
    assert mapping.reply_field == "public_reply"
    assert mapping.fields["language"] == FieldSpec(
        "language", "path", path="interaction.language", default="und"
    )
    assert mapping.fields["origin"] == FieldSpec("origin", "constant", constant="social")
    assert mapping.fields["subject"].max_length == 120


@pytest.mark.parametrize("name", SHIPPED_MAPPINGS)
def test_every_shipped_mapping_validates(name: str) -> None:
    assert load_mapping(name).source.endswith(name)


def test_shipped_mappings_include_local() -> None:
    assert "local.yaml" in SHIPPED_MAPPINGS


def test_full_mapping_loads_into_typed_attributes() -> None:
    mapping = load_mapping(FIXTURES / "good_full.yaml")
    assert [(s.strategy, s.field, s.platforms) for s in mapping.customer_match] == [
        ("social_id", "Twitter_Id__c", ("x",)),
        ("handle", "Instagram_Handle__c", ("instagram",)),
        ("email", None, None),
    ]
    assert mapping.create_unmatched is False
    assert mapping.customer_value is not None
    assert (mapping.customer_value.field, mapping.customer_value.tier_field) == (
        "Account.AnnualRevenue",
        "Account.Tier__c",
    )
    assert (mapping.lifecycle_policy, mapping.reopen_window_days) == ("new_linked", 3.5)
    assert mapping.fields["Is_Crisis__c"].value_map == {"true": "Yes", "false": "No"}
    assert mapping.description == "Service Cloud cases for the social team."


def test_status_translation_both_ways() -> None:
    mapping = load_mapping("local.yaml")
    assert [mapping.status_for(s) for s in ("new", "pending", "resolved", "closed", "spam")] == [
        "open",
        "open",
        "resolved",
        "closed",
        None,
    ]
    assert [mapping.desk_status_for(s) for s in ("open", "resolved", "closed")] == [
        "open",
        "resolved",
        "closed",
    ]
    with pytest.raises(ValueError, match="unknown status 'lost'"):
        mapping.desk_status_for("lost")


def test_numeric_desk_statuses_compare_as_text_and_closed_falls_back_to_resolved() -> None:
    text = (
        "version: 1\nconnector: local\nobject: incident\nfields: {}\n"
        "status_map: {open: [1, 2], resolved: [6]}\nwritable_fields: []\n"
    )
    mapping = load_mapping_text(text, "servicenow.yaml")
    assert mapping.status_for("6") == "resolved"
    assert mapping.desk_status_for("open") == "1"
    assert mapping.desk_status_for("closed") == "6"


# Each bad file, and the one exact problem it must produce (``file:line: key: problem``).
BAD_MAPPINGS: list[tuple[str, str]] = [
    (
        "bad_unknown_key.yaml",
        "12: lifecyle: unknown key; expected one of connector, create_unmatched, customer_match, "
        "customer_value, description, fields, lifecycle, object, reply, soap, status_map, target, version, "
        "writable_fields",
    ),
    ("bad_missing_version.yaml", "2: version: required key is missing"),
    ("bad_wrong_version.yaml", "2: version: must be 1, not 2"),
    ("bad_unwritable_field.yaml", "8: fields.internal_notes: 'internal_notes' is not in writable_fields"),
    (
        "bad_path_root.yaml",
        "7: fields.description.path: path 'ticket.text' must start with one of "
        "interaction, author, customer, triage, desk",
    ),
    (
        "bad_path_field.yaml",
        "7: fields.description.path: path 'interaction.txt': interaction has no field 'txt' "
        "(known: platform, kind, external_id, thread_key, brand_account_id, author, text, created_at, "
        "parent_external_id, language, permalink, id, from_brand, engagement)",
    ),
    (
        "bad_template_syntax.yaml",
        "8: fields.subject.template: template does not compile: unexpected '}' (template line 1)",
    ),
    (
        "bad_template_name.yaml",
        "7: fields.subject.template: template uses 'ticket'; "
        "only interaction, author, customer, triage, desk are available",
    ),
    (
        "bad_strategy.yaml",
        "7: customer_match[1].strategy: 'fax' is not one of social_id, handle, email, phone",
    ),
    (
        "bad_duplicate_status.yaml",
        "13: status_map.closed[1]: desk status 'resolved' is already listed under status_map.resolved",
    ),
    (
        "bad_yaml_syntax.yaml",
        "10: (root): not valid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence started on line 9)",
    ),
    (
        "bad_two_ways.yaml",
        "6: fields.subject: has path and template; use exactly one of constant, path, template",
    ),
    ("bad_map_without_default.yaml", "8: fields.hs_ticket_priority.map: needs default as well"),
    ("bad_duplicate_key.yaml", "11: fields: key is given more than once; only the last one would count"),
]


@pytest.mark.parametrize(("name", "expected"), BAD_MAPPINGS, ids=[name for name, _ in BAD_MAPPINGS])
def test_bad_mapping_reports_file_line_key_and_problem(name: str, expected: str) -> None:
    path = FIXTURES / name
    assert problems_of(path) == [f"{path}:{expected}"]


def test_every_bad_fixture_is_in_the_table() -> None:
    on_disk = {p.name for p in FIXTURES.glob("bad_*.yaml")} - {"bad_many.yaml"}
    assert on_disk == {name for name, _ in BAD_MAPPINGS}


def test_several_problems_are_reported_at_once_in_file_order() -> None:
    path = FIXTURES / "bad_many.yaml"
    assert problems_of(path) == [
        f"{path}:2: version: must be of type integer, not string",
        f"{path}:2: version: must be 1, not '1'",
        f"{path}:3: connector: 'zendesk' is not one of local, salesforce, hubspot, soap",
        f"{path}:6: fields.subject: needs exactly one of constant, path, template",
        f"{path}:7: fields.subject.tmplate: unknown key; expected one of constant, default, map, max_length, "
        "path, redact_pii, template",
        f"{path}:10: fields.notes: 'notes' is not in writable_fields",
        f"{path}:14: status_map.resolved[1]: desk status 'open' is already listed under status_map.open",
        f"{path}:18: lifecycle.reopen_window_days: must be at least 0, not -1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "x.yaml:1: (root): must be of type mapping, not null"),
        ("- a\n- b\n", "x.yaml:1: (root): must be of type mapping, not list"),
        (
            "a: !!python/object/apply:os.system [ls]\n",
            "x.yaml:1: (root): not valid YAML: could not determine",
        ),
        (
            "version: 1\nconnector: local\nobject: ticket\nfields:\n  bad name: {constant: 1}\n"
            "status_map: {open: [o], resolved: [r]}\nwritable_fields: []\n",
            "x.yaml:5: fields.bad name: 'bad name' is not a valid desk field name (must match "
            "^[A-Za-z_][A-Za-z0-9_]*$)",
        ),
    ],
    ids=["empty", "not-a-mapping", "unsafe-tag", "bad-field-name"],
)
def test_odd_documents_are_reported_not_crashed_on(text: str, expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, "x.yaml")
    assert caught.value.problems[0].startswith(expected)


MINIMAL = "version: 1\nconnector: local\nobject: ticket\nwritable_fields: [f]\n"


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            "fields:\n  f: {path: interaction.text.length}\nstatus_map: {open: [o], resolved: [r]}\n",
            "6: fields.f.path: path 'interaction.text.length' goes past interaction.text, "
            "which has no fields",
        ),
        (
            "fields:\n  f:\n    path: author.handle\n    max_length: 5\n"
            "status_map: {open: [o], resolved: [r]}\n",
            "8: fields.f.max_length: needs template as well",
        ),
        (
            "fields:\n  f: {constant: 1}\nstatus_map:\n  open: [o]\n  closed: [c]\n",
            "7: status_map.resolved: required key is missing",
        ),
        (
            "fields:\n  f: {constant: 1}\nstatus_map: {open: [], resolved: [r]}\n",
            "7: status_map.open: must list at least 1 item(s)",
        ),
    ],
    ids=["path-past-a-leaf", "max-length-without-template", "missing-resolved", "no-open-status"],
)
def test_more_problems_point_at_the_right_line(tail: str, expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping_text(MINIMAL + tail, "x.yaml")
    assert caught.value.problems == [f"x.yaml:{expected}"]


def test_non_utf8_mapping_is_a_mapping_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("object: caña\n".encode("latin-1"))
    with pytest.raises(MappingError, match="not UTF-8 text"):
        load_mapping(path)


# --- finding mapping files -------------------------------------------------------------


def test_resolve_prefers_base_dir_then_shipped(tmp_path: Path) -> None:
    shipped = resolve_mapping_path("local.yaml", tmp_path)
    assert shipped.is_file()
    assert shipped.parent.name == "mappings"
    (tmp_path / "local.yaml").write_text("version: 1\n", encoding="utf-8")
    assert resolve_mapping_path("local.yaml", tmp_path) == tmp_path / "local.yaml"


def test_resolve_keeps_absolute_paths(tmp_path: Path) -> None:
    absolute = tmp_path / "nowhere.yaml"
    assert resolve_mapping_path(str(absolute), "/elsewhere") == absolute


def test_resolve_unknown_name_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        resolve_mapping_path("zendesk.yaml", tmp_path)
    assert caught.value.problems == [
        f"zendesk.yaml: no such mapping in {tmp_path} and no shipped mapping of that name "
        f"(shipped: {', '.join(SHIPPED_MAPPINGS)})"
    ]


def test_unreadable_mapping_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping"):
        load_mapping(tmp_path)


# --- rendering -------------------------------------------------------------------------


def test_build_context_is_plain_data_without_raw() -> None:
    interaction = make_interaction()
    context = build_context(interaction, interaction.author, None, make_triage(), "support")
    assert set(context) == {"interaction", "author", "customer", "triage", "desk"}
    assert "raw" not in context["interaction"]
    assert context["interaction"]["created_at"] == "2024-06-01T09:30:00+00:00"
    assert context["interaction"]["author"]["handle"] == "marta_rg"
    assert context["triage"]["sla_due_at"] == "2024-06-01T13:30:00+00:00"
    assert context["customer"] is None
    assert context["desk"] == {"name": "support"}
    json.dumps(context)  # plain data all the way down


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("{constant: social}", "social"),
        ("{constant: 3}", 3),
        ("{path: interaction.text}", "@acme where is my order?"),
        ("{path: interaction.author.handle}", "marta_rg"),
        ("{path: desk.name}", "support"),
        ("{path: customer.customer_id, default: none}", "none"),  # no customer at all
        ("{path: interaction.parent_external_id, default: root}", "root"),  # present but null
        ("{path: interaction.parent_external_id}", None),
        ("{path: triage.priority, map: {P1: High, P2: High}, default: Low}", "High"),
        ("{path: triage.priority, map: {P1: High}, default: Low}", "Low"),  # unmapped value
        ("{path: triage.crisis, map: {true: 'Yes', false: 'No'}, default: '?'}", "No"),
        ("{path: customer.tier, map: {top: Gold}, default: Standard}", "Standard"),  # missing value
        ("{template: '{{ author.display_name }} ({{ interaction.platform }})'}", "Marta Ruiz (x)"),
        ("{template: '[{{ customer.name }}]'}", "[]"),  # a missing value renders empty
        ("{template: '{{ interaction.text }}', max_length: 10}", "@acme whe…"),
        ("{template: '{{ interaction.text }}', max_length: 100}", "@acme where is my order?"),
    ],
)
def test_each_field_spec_kind(spec: str, expected: Any) -> None:
    assert render_one(spec) == expected


def test_local_mapping_renders_every_field() -> None:
    customer = Customer(system="local", customer_id="C-1001", name="Marta Ruiz")
    interaction = make_interaction(text="x" * 200, language=None)
    fields = render_fields(load_mapping("local.yaml"), context_for(interaction, customer))
    assert fields == {
        "subject": "[x] marta_rg: " + "x" * 57 + "...",
        "description": "x" * 200,
        "priority": "P2",
        "channel": "private",
        "language": "und",
        "permalink": "https://x.com/marta_rg/status/1798450071234567890",
        "origin": "social",
        "customer_id": "C-1001",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write me at marta.ruiz+shop@example.co.uk", "write me at [redacted]"),
        ("call +34 600 123 456 today", "call [redacted] today"),
        ("call (555) 123-4567", "call [redacted]"),
        ("card 4111111111111111", "card [redacted]"),
        ("order 12345678", "order [redacted]"),
        ("order 1234567 on 2024-06-01, 15/06/2024", "order 1234567 on 2024-06-01, 15/06/2024"),
    ],
)
def test_redact_pii(text: str, expected: str) -> None:
    context = context_for(make_interaction(text=text))
    assert render_one("{path: interaction.text, redact_pii: true}", context) == expected


def test_redaction_happens_before_truncation() -> None:
    context = context_for(make_interaction(text="mail marta@example.com now"))
    assert render_one("{template: '{{ interaction.text }}', max_length: 12, redact_pii: true}", context) == (
        "mail [redac…"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ interaction.__class__.__init__.__globals__ }}",
        "{{ author.text.__class__.__base__ }}",
    ],
)
def test_sandbox_hides_dunder_attributes(template: str) -> None:
    assert render_one(json.dumps({"template": template})) == ""


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),
        ("{{ interaction.update({'text': 'x'}) }}", "SecurityError"),
        ("{{ interaction.text.nope() }}", "UndefinedError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_a_failing_template_is_a_render_error(template: str, error: str) -> None:
    mapping = mapping_with({"f": json.dumps({"template": template})})
    with pytest.raises(RenderError) as caught:
        render_fields(mapping, context_for())
    assert caught.value.field == "f"
    assert caught.value.message.startswith(f"template failed: {error}")


def test_templates_see_no_globals() -> None:
    with pytest.raises(MappingError, match="template uses 'range'"):
        mapping_with({"f": "{template: '{% for i in range(3) %}{{ i }}{% endfor %}'}"})


def test_render_refuses_a_field_outside_the_allow_list() -> None:
    mapping = mapping_with({"origin": "{constant: social}"})
    sneaky = Mapping(
        source=mapping.source,
        connector=mapping.connector,
        object=mapping.object,
        fields={**mapping.fields, "owner": FieldSpec("owner", "constant", constant="root")},
        status_map=mapping.status_map,
        writable_fields=mapping.writable_fields,
    )
    with pytest.raises(RenderError, match="owner: is not in writable_fields"):
        render_fields(sneaky, context_for())


# --- preview ---------------------------------------------------------------------------


def test_preview_renders_the_sample_payload() -> None:
    fields = preview(FIXTURES / "good_full.yaml", FIXTURES / "payload.json")
    assert fields == {
        "Subject": "Marta Ruiz on x: @acme my order 1234567…",
        "Description": "@acme my order [redacted] never arrived, write me at [redacted] or [redacted]",
        "Priority": "High",
        "Is_Crisis__c": "No",
        "Language__c": "en",
        "ContactId": "C-1001",
        "Origin": "Social",
        "Desk__c": "preview",
        "Handle__c": "marta_rg",
    }


def test_preview_without_triage_uses_a_neutral_p3() -> None:
    fields = preview("local.yaml", FIXTURES / "payload_minimal.json")
    assert fields["priority"] == "P3"
    assert fields["channel"] == "public"
    assert fields["subject"] == "[instagram] Lu: Hola, ¿tenéis la talla M?"
    assert fields["customer_id"] is None
    assert fields["language"] == "und"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read payload"),
        ("{not json", "payload is not valid JSON"),
        ("[]", "payload must be a JSON object with an 'interaction' object"),
        ('{"interaction": {"platform": "x"}}', "interaction: not a valid interaction record"),
        ('{"interaction": INTERACTION, "triage": {"priority": "P1"}}', "triage: not a valid triage record"),
        ('{"interaction": INTERACTION, "customer": {"nope": 1}}', "customer: not a valid customer record"),
    ],
)
def test_preview_reports_a_bad_payload(tmp_path: Path, content: str | None, expected: str) -> None:
    payload = tmp_path / "payload.json"
    if content is not None:
        interaction = json.dumps(json.loads((FIXTURES / "payload.json").read_text("utf-8"))["interaction"])
        payload.write_text(content.replace("INTERACTION", interaction), encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        preview("local.yaml", payload)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{payload}: ")
    assert expected in caught.value.problems[0]
