"""Replies: each outcome and language, the PII guard, the agent note, platform limits."""

from __future__ import annotations

from typing import Any

import pytest

from connector.config import BrandSettings
from connector.model import Author
from connector.replies import (
    OUTCOMES,
    X_LIMIT,
    ReplyBlockedError,
    ReplyError,
    choose_outcome,
    contains_pii,
    fit,
    greeting_name,
    render_reply,
    x_weighted_length,
)

PLATFORMS = ("x", "facebook", "instagram", "messenger")


def variables(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "author": {"handle": "@lucia_g", "display_name": "Lucía García 🌻"},
        "brand": {"name": "Acme", "private_channel_hint": None},
        "ticket": {"number": "00001026"},
        "resolution_summary": "Cambiamos el cargador del lote 7; ver nota interna INC-2291",
    }
    values.update(overrides)
    return values


# ------------------------------------------------------------------ every outcome, language and platform

EXPECTED_WORDS = {
    ("resolved", "es"): "resuelto",
    ("resolved", "en"): "resolved",
    ("closed", "es"): "cerrado",
    ("closed", "en"): "closed",
    ("private", "es"): "privado",
    ("private", "en"): "privately",
}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(("outcome", "language"), list(EXPECTED_WORDS))
def test_every_outcome_renders_warm_short_and_complete(outcome: str, language: str, platform: str) -> None:
    text = render_reply(outcome, language, variables(), platform)  # type: ignore[arg-type]
    assert EXPECTED_WORDS[(outcome, language)] in text
    assert "Lucía" in text and "#00001026" in text and "Acme" in text
    assert "\n" not in text and "  " not in text
    assert x_weighted_length(text) <= X_LIMIT
    assert contains_pii(text) == ()


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_agent_note_stays_out_of_replies_by_default(outcome: str) -> None:
    text = render_reply(outcome, "es", variables(), "x")  # type: ignore[arg-type]
    assert "INC-2291" not in text and "lote 7" not in text


def test_agent_note_can_be_included_in_a_direct_reply() -> None:
    text = render_reply("resolved", "es", variables(), "messenger", include_resolution=True)
    assert "Cambiamos el cargador del lote 7" in text


def test_agent_note_never_goes_into_a_private_channel_invitation() -> None:
    text = render_reply("private", "en", variables(), "facebook", include_resolution=True)
    assert "lote 7" not in text


def test_unknown_language_falls_back_to_english() -> None:
    assert render_reply("resolved", "pt", variables(), "x").startswith("Hi Lucía!")


def test_regional_language_tags_use_the_base_language() -> None:
    assert render_reply("closed", "es-MX", variables(), "x").startswith("Hola, Lucía.")


def test_private_reply_uses_the_brand_hint_when_given() -> None:
    brand = BrandSettings(
        name="Acme", private_channel_hint="escríbenos a soporte@acme.example o al 900 123 456"
    )
    text = render_reply("private", "es", variables(brand=brand), "instagram")
    assert "soporte@acme.example" in text  # the brand's own contact is not personal data


def test_reply_renders_without_optional_values() -> None:
    text = render_reply("resolved", "en", {}, "x")
    assert text.startswith("Hi! Good news: your case is resolved.")


def test_accepts_model_objects_as_variables() -> None:
    author = Author("x", "1", handle="lucia_g", display_name="Lucía")
    text = render_reply("resolved", "es", variables(author=author, brand=BrandSettings(name="Acme")), "x")
    assert text.startswith("¡Hola, Lucía!")


def test_unknown_outcome_is_an_error() -> None:
    with pytest.raises(ReplyError, match="unknown outcome"):
        render_reply("reopened", "es", variables(), "x")  # type: ignore[arg-type]


# ------------------------------------------------------------------ no personal data, ever


def test_reply_carrying_pii_is_blocked_without_echoing_it() -> None:
    leaky = variables(resolution_summary="Te llamamos al 612 345 678 para confirmar")
    with pytest.raises(ReplyBlockedError) as caught:
        render_reply("resolved", "es", leaky, "messenger", include_resolution=True)
    assert caught.value.pii == ("phone",)
    assert "612" not in str(caught.value)


def test_blocked_error_also_takes_a_plain_message() -> None:
    error = ReplyBlockedError("the agent's reply contains personal data (phone)")
    assert str(error) == "the agent's reply contains personal data (phone)" and error.pii == ()


def test_card_number_in_the_agent_note_is_blocked() -> None:
    leaky = variables(resolution_summary="refund to card 4111 1111 1111 1111")
    with pytest.raises(ReplyBlockedError, match="payment_card"):
        render_reply("resolved", "en", leaky, "messenger", include_resolution=True)


def test_display_name_with_personal_data_is_not_used_to_greet() -> None:
    author = {"handle": "@x", "display_name": "Pedro 612 345 678"}
    text = render_reply("resolved", "es", variables(author=author), "x")
    assert text.startswith("¡Hola! ") and "612" not in text


@pytest.mark.parametrize(
    ("display_name", "name"),
    [
        ("Lucía García 🌻", "Lucía"),
        ("🔥 Dani | fan de @acme", "Dani"),
        ("@otro_usuario", None),
        ("https://spam.example Bob", "Bob"),
        ("1234", None),
        ("lucia@example.com", None),
        ("Jean-Luc Picard", "Jean-Luc"),
        ("", None),
        (None, None),
    ],
)
def test_greeting_name_is_a_plain_first_word(display_name: str | None, name: str | None) -> None:
    assert greeting_name(display_name) == name


def test_template_syntax_in_a_display_name_is_just_text() -> None:
    author = {"display_name": "{{ 7*7 }} {% raw %}"}
    text = render_reply("resolved", "en", variables(author=author), "x")
    assert "49" not in text


# ------------------------------------------------------------------ choosing the outcome


@pytest.mark.parametrize(
    ("status", "channel", "direct", "outcome"),
    [
        ("resolved", "public", False, "resolved"),
        ("closed", "public", False, "closed"),
        ("resolved", "private", False, "private"),
        ("closed", "private", False, "private"),
        ("resolved", "private", True, "resolved"),
        ("closed", "private", True, "closed"),
    ],
)
def test_choose_outcome(status: str, channel: str, direct: bool, outcome: str) -> None:
    assert choose_outcome(status, channel, direct=direct) == outcome


def test_open_status_has_no_reply() -> None:
    with pytest.raises(ReplyError, match="no reply for status 'open'"):
        choose_outcome("open", "public")


# ------------------------------------------------------------------ platform limits


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("hola", 4),
        ("canción ñandú", 13),  # accented Latin counts 1
        ("😊", 2),
        ("👍🏽", 2),  # skin tone modifier adds nothing
        ("❤️", 2),  # variation selector adds nothing
        ("👨‍👩‍👧", 2),  # a ZWJ family is one emoji
        ("🇪🇸", 2),  # a flag is one emoji
        ("日本", 4),  # CJK counts 2
        ("see https://example.com/a/very/long/path?with=query", 4 + 23),
        ("— …", 4),  # em dash 1, ellipsis 2 (outside X's narrow ranges)
    ],
)
def test_x_weighted_length(text: str, weight: int) -> None:
    assert x_weighted_length(text) == weight


def test_long_x_reply_is_truncated_politely_to_280() -> None:
    brand = {"name": "Acme Electrodomésticos " + "Servicio Oficial de Atención al Cliente " * 5}
    text = render_reply("closed", "es", variables(brand=brand), "x")
    assert x_weighted_length(text) <= X_LIMIT
    assert text.endswith("…") and not text.endswith(" …")


def test_emoji_heavy_names_count_double_on_x() -> None:
    text = "Hola " + "😊" * 150
    assert x_weighted_length(text) == 5 + 300
    assert x_weighted_length(fit(text, X_LIMIT, x_weighted_length)) <= X_LIMIT


def test_truncation_never_cuts_a_link() -> None:
    url = "https://acme.example/ayuda/casos/seguimiento"
    text = "palabra " * 10 + url + " y algo más de texto"
    assert fit(text, 100) == "palabra " * 9 + "palabra…"  # the link would not fit whole: it goes
    assert fit(text, 132) == "palabra " * 10 + url + " y algo…"


def test_meta_replies_are_capped_at_2000() -> None:
    long_note = "Revisamos el equipo y cambiamos la placa. " * 80
    text = render_reply(
        "resolved", "es", variables(resolution_summary=long_note), "messenger", include_resolution=True
    )
    assert len(text) <= 2000 and text.endswith("…")


def test_a_single_overlong_word_is_cut_hard() -> None:
    assert fit("a" * 300, X_LIMIT) == "a" * (X_LIMIT - 1) + "…"


def test_short_texts_are_left_alone() -> None:
    assert fit("Gracias!", 280) == "Gracias!"
