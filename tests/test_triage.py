"""Triage: natures, sentiment, channel, PII, priority and explanations on realistic texts.

Policy choice under test: a negated safety term is still safety ("no es peligroso?",
"no danger?"). When in doubt we say safety, because a missed fire costs more than an
agent's glance. Sentiment follows the labelling rules (tests/fixtures/triage/README.md):
every complaint, safety included, reads negative however calmly it is worded.

These tests pin the word lists (negation, sarcasm, contrast, hazard pairs), so the learned
nature model is off here; the default, where it votes, is measured on the labelled sets in
tests/test_triage_quality.py and its voting rules are tested in tests/test_nature_model.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.config import TriageSettings
from connector.language import detect_language, resolve_language
from connector.model import PRIORITIES, Author, Customer, Interaction
from connector.pii import find_pii, iban_valid, luhn_valid, pii_types
from connector.triage import (
    NATURES,
    LexiconError,
    analyze_text,
    influence_score,
    load_lexicon,
    triage_interaction,
    value_score,
)

NOW = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
SETTINGS = TriageSettings(nature_model=None)


def make_interaction(
    text: str,
    kind: str = "comment",
    followers: int | None = 150,
    verified: bool = False,
    language: str | None = None,
    platform: str = "x",
) -> Interaction:
    author = Author(platform, "u1", "cliente", "Cliente", followers, verified)
    return Interaction(
        platform, kind, "e1", f"{platform}:brand:root", "brand", author, text, NOW, language=language
    )


def customer(value: float | None) -> Customer:
    return Customer(system="local", customer_id="c1", value=value)


# text, kind, nature, sentiment, channel
CASES: list[tuple[str, str, str, str, str]] = [
    # --- Spanish: safety (typos, no accents, caps, emoji)
    ("Mi cafetera se incendió esta mañana y salía humo negro 😡", "comment", "safety", "neg", "public"),
    ("OLOR A QUEMADO en el cargador, esto es peligrosisimo", "mention", "safety", "neg", "public"),
    ("El patinete exploto mientras cargaba!!! casi me mata", "comment", "safety", "neg", "public"),
    (
        "me dio alergia la crema hidratante, tengo ronchas por todo el cuerpo",
        "review",
        "safety",
        "neg",
        "public",
    ),
    ("Comimos el pollo y toda la familia con intoxicacion, fatal", "review", "safety", "neg", "public"),
    ("Me hackearon la cuenta y hay compras que no hice", "mention", "safety", "neg", "public"),
    ("no es peligroso que el enchufe se ponga tan caliente?", "comment", "safety", "neg", "public"),
    # --- Spanish: product failure, performance, pricing, after-sales
    ("No funciona el cargador desde el primer dia", "comment", "product_failure", "neg", "public"),
    ("el pedido 123456 todavia no llega y ya van 3 semanas", "mention", "product_failure", "neg", "public"),
    ("Llegó roto el televisor, pantalla rota de fábrica", "review", "product_failure", "neg", "public"),
    ("faltan piezas en la caja del armario modelo XR-500", "comment", "product_failure", "neg", "public"),
    ("Gracias, pero sigue sin funcionar", "comment", "product_failure", "neg", "public"),
    ("La app va lentisima y se traba cada dos por tres", "comment", "performance", "neg", "public"),
    ("La bateria dura poco, mucho menos de lo prometido", "review", "performance", "neg", "public"),
    ("me cobraron dos veces el pedido, 19,99 € cada vez", "comment", "pricing", "neg", "public"),
    (
        "Precio abusivo y encima cargos ocultos en la factura del 12/03/2025",
        "comment",
        "pricing",
        "neg",
        "public",
    ),
    ("Quiero la devolucion del producto, como hago?", "comment", "after_sales", "neu", "public"),
    ("cuando me hacen el reembolso??", "mention", "after_sales", "neu", "public"),
    # --- Spanish: complaint handling, questions, praise, other
    ("Llevo semanas esperando al tecnico y nadie contesta", "comment", "complaint_handling", "neg", "public"),
    (
        "Es la tercera vez que escribo y nadie me responde. Pésima atención",
        "comment",
        "complaint_handling",
        "neg",
        "public",
    ),
    (
        "Cerraron mi ticket sin solucionar nada, gracias por nada",
        "mention",
        "complaint_handling",
        "neg",
        "public",
    ),
    ("NO FUNCIONA!!! PESIMO SERVICIO 🤬🤬", "comment", "complaint_handling", "neg", "public"),
    ("¿Dónde puedo comprar el modelo XR-500?", "comment", "question", "neu", "public"),
    ("Hola, tienen stock de la talla M?", "comment", "question", "neu", "public"),
    ("¿A qué hora abren mañana?", "mention", "question", "neu", "public"),
    ("Muchas gracias por la atencion, me encanta el producto 😍", "comment", "praise", "pos", "public"),
    ("Excelente servicio, super rapidos!! 👏", "review", "praise", "pos", "public"),
    ("No, funciona perfecto", "comment", "praise", "pos", "public"),
    ("no tuve ningún problema, todo bien", "comment", "praise", "pos", "public"),  # a compliment
    ("hola", "comment", "other", "neu", "public"),
    ("Estoy quemado con esta empresa, nunca más compro aquí", "comment", "other", "neg", "public"),  # idiom
    ("Hola buenas, el aire acondicionado no enfría nada", "comment", "performance", "neg", "public"),
    ("#boicot a esta marca, me estafaron. Difundan", "post", "pricing", "neg", "public"),
    ("Producto defectuoso, no lo recomiendo", "review", "product_failure", "neg", "public"),
    # --- Spanish: PII moves public conversations to private; DMs are always private
    ("llamame al 612 345 678, el pedido no llegó", "comment", "product_failure", "neg", "private"),
    (
        "Hola, necesito la factura del pedido, mi correo es juan.perez@gmail.com",
        "comment",
        "question",  # a request with no complaint in it
        "neu",
        "private",
    ),
    ("Mi DNI es 12345678Z y no me dejan activar la garantía", "mention", "after_sales", "neg", "private"),
    ("Hola, os escribo por lo del pedido 5512", "direct_message", "other", "neu", "private"),
    # --- English: safety
    (
        "My phone charger caught fire last night!! Please share, this is dangerous",
        "mention",
        "safety",
        "neg",
        "public",
    ),
    ("There's a burning smell coming from the microwave", "comment", "safety", "neg", "public"),
    ("Found a piece of glass in my cereal. Disgusting", "review", "safety", "neg", "public"),
    ("My kid got an electric shock from the toy", "comment", "safety", "neg", "public"),
    ("my account was HACKED and there are charges I didn't make", "mention", "safety", "neg", "public"),
    ("is it safe to leave it charging? no danger with the battery?", "comment", "safety", "neg", "public"),
    # --- English: the rest
    ("The app doesnt work since the update", "comment", "product_failure", "neg", "public"),
    ("Package never arrived. Order 5512.", "mention", "product_failure", "neg", "public"),
    ("DEAD ON ARRIVAL. Missing parts too", "review", "product_failure", "neg", "public"),
    ("Battery drains so fast, really disappointed", "review", "performance", "neg", "public"),
    ("Wifi is super slow every evening", "mention", "performance", "neg", "public"),
    ("I was double charged for my subscription", "comment", "pricing", "neg", "public"),
    ("Hidden fees everywhere, what a rip off", "comment", "pricing", "neg", "public"),
    ("I love it but the price is way too expensive", "comment", "pricing", "neg", "public"),
    ("How do I return this and get a refund?", "comment", "after_sales", "neu", "public"),
    ("Nobody answers the phone, third time I write", "mention", "complaint_handling", "neg", "public"),
    (
        "Still waiting after 3 weeks. Terrible customer service",
        "comment",
        "complaint_handling",
        "neg",
        "public",
    ),
    ("Thanks for nothing, nobody answers 😡", "mention", "complaint_handling", "neg", "public"),
    ("#boycott this company, they ignore every complaint. RT", "post", "complaint_handling", "neg", "public"),
    ("Is the XR-500 available in blue?", "comment", "question", "neu", "public"),
    ("Where can I buy spare filters", "comment", "question", "neu", "public"),
    ("Thank you so much, great service and fast delivery! ❤️", "comment", "praise", "pos", "public"),
    ("Not bad at all, works great 👍", "review", "praise", "pos", "public"),
    ("Great product, highly recommend", "review", "praise", "pos", "public"),
    ("you guys are on fire today, great job!", "mention", "praise", "pos", "public"),  # idiom, not a fire
    ("the item was fine but delivery took forever", "review", "performance", "neg", "public"),
    ("Call me at +44 20 7946 0958, the blender is broken", "mention", "product_failure", "neg", "private"),
    ("my card 4111 1111 1111 1111 was charged twice", "comment", "pricing", "neg", "private"),
    ("hi, I have a question about my order", "direct_message", "question", "neu", "private"),
]


@pytest.mark.parametrize(
    ("text", "kind", "nature", "sentiment", "channel"), CASES, ids=[c[0][:40] for c in CASES]
)
def test_triage_table(text: str, kind: str, nature: str, sentiment: str, channel: str) -> None:
    result = triage_interaction(make_interaction(text, kind), None, SETTINGS, now=NOW)
    assert (result.nature, result.sentiment, result.channel) == (nature, sentiment, channel), (
        result.explanation
    )
    assert -1.0 <= result.sentiment_score <= 1.0
    assert 0.0 <= result.risk <= 1.0


def test_table_is_big_and_covers_every_nature_but_other_in_both_languages() -> None:
    assert len(CASES) >= 40
    assert {c[2] for c in CASES} == set(NATURES)


# ------------------------------------------------------------------ nature rules


def test_safety_wins_over_everything_else() -> None:
    text = "Gracias! El pedido llegó roto, quiero la devolución, nadie contesta y encima huele a quemado"
    assert triage_interaction(make_interaction(text), None, SETTINGS, now=NOW).nature == "safety"


def test_safety_terms_of_other_allowed_languages_still_count() -> None:
    result = triage_interaction(
        make_interaction("FIRE en la cocina!!", language="es"), None, SETTINGS, now=NOW
    )
    assert result.nature == "safety"


def test_only_listed_idioms_can_hide_a_safety_term() -> None:
    assert analyze_text("estoy quemado con este servicio", "es").nature != "safety"
    assert analyze_text("Estoy quemado: el cargador se quemó", "es").nature == "safety"
    assert analyze_text("muy mal servicio, huele a quemado", "es").nature == "safety"


def test_a_bare_question_mark_makes_a_question() -> None:
    assert analyze_text("¿y lo del sábado?", "es").nature == "question"
    assert analyze_text("y lo del sábado", "es").nature == "other"


def test_phrases_do_not_cross_punctuation() -> None:
    assert analyze_text("No, funciona perfecto", "es").nature != "product_failure"
    assert analyze_text("No funciona", "es").nature == "product_failure"


def test_light_stemming_and_typos() -> None:
    assert analyze_text("quiero hacer dos devoluciones", "es").nature == "after_sales"
    assert (
        analyze_text("quiero la debolucion", "es").nature == "after_sales"
    )  # one-letter typo in a long word
    assert analyze_text("the fires started in the charger", "en").nature == "safety"


def test_short_words_are_not_fuzzy_matched() -> None:
    # "quedado" is one letter away from "quemado"; short words must match exactly.
    assert analyze_text("me he quedado sin saldo", "es").nature != "safety"


def test_negation_flips_sentiment() -> None:
    assert analyze_text("me gusta", "es").sentiment == "pos"
    assert analyze_text("no me gusta", "es").sentiment == "neg"
    assert analyze_text("not good", "en").sentiment == "neg"
    assert analyze_text("not bad", "en").sentiment == "pos"


def test_intensifiers_and_caps_scale_sentiment() -> None:
    plain = analyze_text("el servicio es malo", "es").sentiment_score
    assert analyze_text("el servicio es muy malo", "es").sentiment_score < plain
    assert analyze_text("el servicio es MALO", "es").sentiment_score < plain


def test_what_follows_but_weighs_more() -> None:
    assert analyze_text("Gracias, pero no funciona", "es").sentiment == "neg"


def test_extra_terms_let_a_brand_add_words() -> None:
    text = "el horno se puso en modo turbo"
    assert analyze_text(text, "es").nature != "safety"
    extra = {"safety": ["modo turbo"]}
    result = triage_interaction(make_interaction(text), None, SETTINGS, now=NOW, extra_terms=extra)
    assert result.nature == "safety"
    assert '"modo turbo"' in result.explanation


def test_extra_terms_reject_unknown_natures() -> None:
    with pytest.raises(LexiconError, match="unknown keys"):
        load_lexicon("es", extra_terms={"complaints": ["x"]})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"safety": "humo"}, "expected a list"),
        ({"safety": ["  "]}, "empty term"),
        ({"safety": [True]}, "expected a list"),
    ],
)
def test_malformed_extra_terms_are_rejected(extra: dict[str, object], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        load_lexicon("es", extra_terms=extra)  # type: ignore[arg-type]


def test_missing_lexicon_is_an_error_and_analysis_falls_back_to_english() -> None:
    with pytest.raises(LexiconError, match="no lexicon"):
        load_lexicon("zz")
    assert analyze_text("it does not work", "zz").nature == "product_failure"


def test_broad_supplements_are_merged_into_the_core_lexicon() -> None:
    # "abombada" comes from es.broad.yaml, "roto" from es.yaml: both are matched.
    assert analyze_text("la batería está abombada", "es").nature == "safety"
    assert analyze_text("llegó roto", "es").nature == "product_failure"


@pytest.mark.parametrize(
    ("text", "language", "nature"),
    [
        # text-speak is read as the full word
        ("me salen 2 compras q no hice en la tarjeta", "es", "safety"),
        ("pls help, someone is logging into my acct", "en", "safety"),
        # a medicine plus a mix-up, and a person plus a physical mishap
        ("the chemist gave me the wrong pills", "en", "safety"),
        ("me dieron un jarabe equivocado para el niño", "es", "safety"),
        ("the shelf fell and knocked my nan over", "en", "safety"),
        # "works, but …" is below par, not broken; a swap is after-sales
        ("it works, but only just", "en", "performance"),
        ("quería cambiar la chaqueta por una M", "es", "after_sales"),
        ("bought a red kettle, got a green one", "en", "product_failure"),
        ("the rent went from £700 to £850 this year", "en", "pricing"),
    ],
)
def test_broad_families_generalise(text: str, language: str, nature: str) -> None:
    assert analyze_text(text, language).nature == nature


def test_plural_stemming_does_not_turn_common_words_into_safety() -> None:
    # "antes" stems to "ant", "bit" is a stem of "bites": neither may raise a safety alarm.
    assert analyze_text("lo quiero antes del jueves", "es").nature != "safety"
    assert analyze_text("the sat nav is a bit slow", "en").nature != "safety"


@pytest.mark.parametrize("language", ["es", "en"])
def test_lexicons_define_every_nature_with_sane_weights(language: str) -> None:
    lexicon = load_lexicon(language)
    assert set(lexicon.rules) == set(NATURES)
    assert max(lexicon.rules.values(), key=lambda r: r.severity) is lexicon.rules["safety"]
    for rule in lexicon.rules.values():
        assert 0.0 <= rule.severity <= 1.0 and rule.weight > 0 and -1.0 <= rule.polarity <= 1.0


# ------------------------------------------------------------------ PII

PII_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("escríbeme a juan.perez@gmail.com", ("email",)),
    ("llamame al 612 345 678", ("phone",)),
    ("mi movil 612345678", ("phone",)),
    ("+34 612 34 56 78 por favor", ("phone",)),
    ("call me on (555) 123-4567", ("phone",)),
    ("+44 20 7946 0958", ("phone",)),
    ("tarjeta 4111 1111 1111 1111", ("payment_card",)),
    ("card 5500-0000-0000-0004 charged", ("payment_card",)),
    ("amex 3782 822463 10005", ("payment_card",)),
    ("4111111111111111", ("payment_card",)),
    ("IBAN ES91 2100 0418 4502 0005 1332 gracias", ("iban",)),
    ("es9121000418450200051332", ("iban",)),
    ("GB82 WEST 1234 5698 7654 32", ("iban",)),
    ("DNI 12345678Z", ("national_id",)),
    ("mi dni: 12345678-z", ("national_id",)),
    ("NIE X1234567L", ("national_id",)),
    ("email a@b.co y tel 91 123 45 67", ("email", "phone")),
    # not PII: order numbers, prices, dates, model numbers, invalid identifiers
    ("order 5512", ()),
    ("pedido 123456", ()),
    ("número de pedido: 612345678", ()),
    ("19,99 €", ()),
    ("cuesta 1.299.000 pesos", ()),
    ("$1,299.99", ()),
    ("12/03/2025", ()),
    ("2025-03-12", ()),
    ("entre 2019-2023", ()),
    ("model XR-500", ()),
    ("modelo SM-G991B", ()),
    ("caso #00001026", ()),
    ("4111 1111 1111 1112", ()),  # fails Luhn
    ("ES91 2100 0418 4502 0005 1333", ()),  # fails mod-97
    ("12345678A", ()),  # wrong DNI control letter
    ("pedido 12345678 y nada más", ()),  # a number followed by the word "y"
    ("X1234567A", ()),  # wrong NIE control letter
    ("@cliente612345678", ()),  # digits in a handle
    ("https://tienda.example/p/612345678", ()),  # digits in a link
    ("de 10.30-12.30 h", ()),
    ("número de pedido: 4111111111111111", ()),  # a reference, even if it passes Luhn
    ("41 11 11 11 11 11 11 11", ()),  # Luhn-valid digits, but not grouped like a card or a phone
]


@pytest.mark.parametrize(("text", "expected"), PII_CASES, ids=[c[0] for c in PII_CASES])
def test_pii_detection(text: str, expected: tuple[str, ...]) -> None:
    assert pii_types(text) == expected


def test_pii_in_the_tail_of_a_very_long_text_is_still_found() -> None:
    text = "bla " * 5_000 + "mi móvil es 612 345 678"
    assert pii_types(text) == ("phone",)
    assert triage_interaction(make_interaction(text), None, SETTINGS, now=NOW).channel == "private"


def test_pii_spans_point_at_the_data() -> None:
    text = "tel 612 345 678 y tarjeta 4111 1111 1111 1111"
    assert [text[m.start : m.end] for m in find_pii(text)] == ["612 345 678", "4111 1111 1111 1111"]


def test_check_digit_helpers() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not luhn_valid("0000000000000")
    assert iban_valid("ES9121000418450200051332") and not iban_valid("ES9121000418450200051333")
    assert not iban_valid("ES91210004184502000513")  # Spanish IBANs are 24 long


def _with_luhn_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


CARD_PREFIXES = ["4", "51", "55", "2221", "2720", "6011", "65", "3528", "3589", "62", "2200"]


@given(st.sampled_from(CARD_PREFIXES), st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_any_luhn_valid_16_digit_number_in_a_card_range_is_a_card(prefix: str, digits: str) -> None:
    number = _with_luhn_digit((prefix + digits)[:15])
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert "payment_card" in pii_types(f"mi tarjeta {grouped}")


@given(st.sampled_from("1789"), st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_a_luhn_valid_number_outside_every_card_range_is_not_a_card(first: str, digits: str) -> None:
    number = _with_luhn_digit(first + digits)
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert "payment_card" not in pii_types(f"referencia {grouped}")


# ------------------------------------------------------------------ who is speaking


def test_influence_is_log_scaled_and_capped() -> None:
    assert influence_score(None, False) == 0.0
    assert influence_score(0, False) == 0.0
    assert influence_score(1_000_000, False) == pytest.approx(1.0, abs=0.01)
    assert influence_score(1_000, False) == pytest.approx(0.5, abs=0.01)
    assert influence_score(1_000, True) == pytest.approx(0.7, abs=0.01)
    assert influence_score(50_000_000, True) == 1.0


@pytest.mark.parametrize(
    ("value", "score"), [(None, 0.2), (0, 0.2), (100, 0.3), (5_000, 0.6), (49_999, 0.6), (50_000, 1.0)]
)
def test_value_score_follows_the_configured_tiers(value: float | None, score: float) -> None:
    assert value_score(customer(value), SETTINGS.value_tiers)[0] == score


def test_unknown_customer_has_a_low_value_score() -> None:
    assert value_score(None, SETTINGS.value_tiers) == (0.2, "unknown customer")


# ------------------------------------------------------------------ priority, SLA, explanation


def test_safety_from_a_big_influencer_and_top_customer_is_p1() -> None:
    interaction = make_interaction("se incendió la freidora", followers=2_000_000, verified=True)
    result = triage_interaction(interaction, customer(80_000), SETTINGS, now=NOW)
    assert result.priority == "P1"
    assert result.crisis
    assert result.sla_due_at == NOW + timedelta(hours=SETTINGS.sla_hours["P1"])


def test_safety_from_nobody_is_still_at_least_p2() -> None:
    result = triage_interaction(make_interaction("huele a quemado", followers=0), None, SETTINGS, now=NOW)
    assert result.priority in ("P1", "P2")


def test_praise_from_nobody_is_p4() -> None:
    result = triage_interaction(make_interaction("gracias, me encanta", followers=0), None, SETTINGS, now=NOW)
    assert result.priority == "P4"
    assert result.sla_due_at == NOW + timedelta(hours=SETTINGS.sla_hours["P4"])


def test_praise_from_a_top_customer_is_not_left_at_p4() -> None:
    result = triage_interaction(make_interaction("gracias, me encanta"), customer(90_000), SETTINGS, now=NOW)
    assert result.priority == "P3"


def test_spread_plus_negative_is_a_crisis_and_at_least_p2() -> None:
    result = triage_interaction(
        make_interaction("No compren aquí, pésimo servicio. Difundan"), None, SETTINGS, now=NOW
    )
    assert result.crisis
    assert result.priority in ("P1", "P2")
    assert "Difundan" in result.explanation


def test_spread_words_without_negativity_are_not_a_crisis() -> None:
    assert not triage_interaction(make_interaction("Compartan, me encanta!"), None, SETTINGS, now=NOW).crisis


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority)


@given(
    st.sampled_from([c[0] for c in CASES]),
    st.integers(min_value=0, max_value=10_000_000),
    st.integers(min_value=0, max_value=10_000_000),
    st.sampled_from([None, 0.0, 100.0, 5_000.0, 60_000.0]),
    st.sampled_from([None, 0.0, 100.0, 5_000.0, 60_000.0]),
)
def test_more_followers_or_more_value_never_lowers_priority(
    text: str, followers_a: int, followers_b: int, value_a: float | None, value_b: float | None
) -> None:
    low_f, high_f = sorted((followers_a, followers_b))
    ordered = sorted((value_a, value_b), key=lambda v: -1.0 if v is None else v)
    low = triage_interaction(make_interaction(text, followers=low_f), customer(ordered[0]), SETTINGS, now=NOW)
    high = triage_interaction(
        make_interaction(text, followers=high_f), customer(ordered[1]), SETTINGS, now=NOW
    )
    assert _rank(high.priority) <= _rank(low.priority)


def test_sla_uses_the_configured_hours() -> None:
    settings = TriageSettings(sla_hours={"P1": 0.5, "P2": 2, "P3": 8, "P4": 48})
    result = triage_interaction(make_interaction("hola"), None, settings, now=NOW)
    assert result.sla_due_at == NOW + timedelta(hours=settings.sla_hours[result.priority])


def test_explanation_is_one_line_with_the_facts() -> None:
    interaction = make_interaction("Se incendió el cargador, difundan!! 😡", followers=12_000)
    result = triage_interaction(interaction, customer(75_000), SETTINGS, now=NOW)
    assert "\n" not in result.explanation
    assert result.explanation.startswith(f"{result.priority}: safety (")
    for fact in ('"Se incendió"', "negative", "12k followers", "top customer", "crisis"):
        assert fact in result.explanation


def test_explanation_names_pii_types_but_never_the_data() -> None:
    result = triage_interaction(make_interaction("mi tel 612 345 678, no funciona"), None, SETTINGS, now=NOW)
    assert "PII: phone → private" in result.explanation
    assert "612" not in result.explanation


def test_explanation_mentions_legal_threats() -> None:
    result = triage_interaction(make_interaction("me cobraron de más, voy a la OCU"), None, SETTINGS, now=NOW)
    assert 'legal/regulator threat ("OCU")' in result.explanation
    assert (
        result.risk > triage_interaction(make_interaction("me cobraron de más"), None, SETTINGS, now=NOW).risk
    )


def test_explanation_marks_negated_safety() -> None:
    result = triage_interaction(make_interaction("no es peligroso?"), None, SETTINGS, now=NOW)
    assert '"peligroso", negated' in result.explanation


def test_triage_round_trips_through_dict() -> None:
    from connector.model import Triage

    result = triage_interaction(make_interaction("no funciona"), customer(10), SETTINGS, now=NOW)
    assert Triage.from_dict(result.to_dict()) == result


# ------------------------------------------------------------------ language

LANGUAGE_CASES: list[tuple[str, str]] = [
    ("No funciona el cargador y nadie contesta", "es"),
    ("the charger doesn't work and nobody answers", "en"),
    ("¿Dónde está mi pedido?", "es"),
    ("muy lento", "es"),
    ("very slow", "en"),
    ("I've been waiting for weeks", "en"),
    ("devolucion del producto por favor", "es"),
    ("Great product, highly recommend", "en"),  # no function words: lexicon words decide
    ("pantalla rota", "es"),
    ("😡😡😡", "es"),  # no evidence → default
    ("XR-500", "es"),
    ("ok", "es"),
]


@pytest.mark.parametrize(("text", "expected"), LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text, ["es", "en"], "es") == expected


def test_detect_language_respects_allowed_and_default() -> None:
    assert detect_language("¿Dónde está mi pedido?", ["en"], "en") == "en"
    assert detect_language("😡", ["es", "en"], "en") == "en"
    assert detect_language("the order is late", ["es", "pt"], "es") == "es"
    assert detect_language("the order is late", ["pt", "fr"], "pt") == "pt"  # no profile for either


def test_platform_language_wins_when_allowed() -> None:
    assert resolve_language("en", "No funciona el cargador", ["es", "en"], "es") == "en"
    assert resolve_language("es-MX", "the order is late", ["es", "en"], "en") == "es"
    assert resolve_language("pt", "the order is late and nobody answers", ["es", "en"], "es") == "en"
    assert resolve_language("und", "hola", ["es", "en"], "es") == "es"


def test_short_english_text_settled_by_the_pipeline_is_read_in_english() -> None:
    text = "Great product, highly recommend"
    language = resolve_language(None, text, SETTINGS.languages, SETTINGS.default_language)
    result = triage_interaction(make_interaction(text, language=language), None, SETTINGS, now=NOW)
    assert (language, result.nature) == ("en", "praise")


def test_triage_uses_the_detected_language_lexicon() -> None:
    english = triage_interaction(make_interaction("it does not work", language=None), None, SETTINGS, now=NOW)
    assert english.nature == "product_failure"


# ------------------------------------------------------------------ fallbacks, cues and tone


@pytest.mark.parametrize(
    ("text", "language", "nature"),
    [
        ("does the X200 come with a charger or is that extra", "en", "question"),  # no "?"
        ("@Marca a q hora abre la tienda los domingos", "es", "question"),
        ("energy bill estimated at $340 for a month I was away", "en", "pricing"),
        ("7 euros de envío por un pedido de 10, en serio", "es", "pricing"),  # money beats topic hints
        ("app takes about 40 seconds to log in every time", "en", "performance"),  # a duration
        ("TV has no picture, just sound", "en", "product_failure"),  # a bare failure
        ("Hola, os escribo por lo del pedido 5512", "es", "other"),  # one calm hint is no complaint
        ("the pram wheel came off while crossing with my baby in it", "en", "safety"),  # hazard pair
        ("la silla del bebé se rompió con él sentado", "es", "safety"),
        ("Really impressed with how fast you sorted my refund", "en", "praise"),
    ],
)
def test_fallbacks_and_cues(text: str, language: str, nature: str) -> None:
    assert analyze_text(text, language).nature == nature


def test_sarcasm_is_read_for_what_it_means() -> None:
    result = analyze_text("brilliant, 4th outage this month 👏", "en")
    assert (result.nature, result.sentiment) == ("product_failure", "neg")


def test_polite_complaints_are_negative_and_procedural_after_sales_neutral() -> None:
    assert analyze_text("Hello, my parcel never arrived. Kind regards", "en").sentiment == "neg"
    text = "os paso mi IBAN para el reembolso: ES91 2100 0418 4502 0005 1332"
    assert (analyze_text(text, "es").nature, analyze_text(text, "es").sentiment) == ("after_sales", "neu")


# ------------------------------------------------------------------ generalisation rules


@pytest.mark.parametrize(
    ("text", "language", "nature", "sentiment"),
    [
        # a closing "thanks" is manners in a question or a procedural message, not praise
        ("can I change the delivery address on my order? thanks!", "en", "question", "neu"),
        ("¿Se puede pagar en tres plazos? Muchas gracias", "es", "question", "neu"),
        ("here are my bank details for the refund, thanks", "en", "after_sales", "neu"),
        # ... but "thanks for …" and an opening thank-you are gratitude
        ("thanks for sorting my refund so quickly, very pleased", "en", "praise", "pos"),
        # laughing chatter is a joke, not a question or praise; a long laugh is a good mood
        ("anyone else watching the match tonight? lol", "en", "other", "neu"),
        ("jajajaja el anuncio nuevo del gato", "es", "other", "pos"),
        # ... but a laugh does not hide a complaint
        ("the app crashed again lol", "en", "product_failure", "neg"),
        # praise with a softened gripe after a "but" stays praise
        ("the screen is incredible, but the speakers are a bit weak", "en", "praise", "pos"),
        ("el servicio es genial, aunque la app es un poco lenta", "es", "praise", "pos"),
        # an unsoftened gripe keeps its complaint nature
        ("nice design but the speakers are weak", "en", "performance", "neg"),
        # an announced, calm question stays a question whatever its topic
        ("quick question: can I return an item bought in store online?", "en", "question", "neu"),
        ("una duda: ¿la devolución se puede hacer en cualquier tienda?", "es", "question", "neu"),
        # a measured speed and a battery life are performance; a rise by a percentage is pricing
        ("paying for 500Mbps and getting 40 every night", "en", "performance", "neg"),
        ("la batería dura apenas 3 horas", "es", "performance", "neg"),
        ("me han subido la cuota un 25% sin avisar", "es", "pricing", "neg"),
    ],
)
def test_generalisation_rules(text: str, language: str, nature: str, sentiment: str) -> None:
    analysis = analyze_text(text, language, ("es", "en"))
    assert (analysis.nature, analysis.sentiment) == (nature, sentiment)


def test_a_known_word_is_not_a_typo_of_a_safety_term() -> None:
    # "dropping" is a known word; it is not "droppings" misspelt, so no false safety alarm
    assert analyze_text("my signal keeps dropping at home", "en").nature == "performance"
    # a real typo of a safety term is still safety
    assert analyze_text("heard an explossion from the charger", "en").nature == "safety"
    # "blending" is a word the lexicon knows, not "bleeding" with a typo
    assert analyze_text("warranty claim, the blender stopped blending", "en").nature == "after_sales"
    assert analyze_text("found rat droppings in the bag", "en").nature == "safety"


# --- fraud frames and vehicles acting on their own (round 4), in words no fixture uses --------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (
            "en",
            "a guy rang me saying he was from your fraud team and wanted the verification code, was this you",
        ),
        (
            "es",
            "me escribieron por whatsapp haciéndose pasar por el banco y les di el código de verificación",
        ),
        ("en", "there's a £389 payment on my statement I never authorised, card blocked already"),
        ("es", "tengo un cargo de 79 euros en la tarjeta que no reconozco"),
        ("en", "somebody took out a phone contract under my name, I've had the debt letter"),
        ("es", "alguien sacó un préstamo con mi DNI, yo nunca pedí nada"),
        ("en", "my hatchback braked on its own on the A1 twice this week"),
        ("es", "la camioneta aceleró sola saliendo del garaje"),
    ],
)
def test_fraud_and_runaway_vehicles_are_safety(language: str, text: str) -> None:
    assert analyze_text(text, language).nature == "safety"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "I got an email with a discount code but it doesn't work at checkout"),
        ("es", "me cobraron el envío dos veces, quiero que me devuelvan un cargo"),
        ("en", "can I open an account in my name for my daughter?"),
    ],
)
def test_the_frames_need_both_halves(language: str, text: str) -> None:
    assert analyze_text(text, language).nature != "safety"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (
            "en",
            "the courier left the envelope with my new passport on the doorstep, anyone could have taken it",
        ),
        ("es", "me dejaron el sobre con el pasaporte en el buzón abierto del portal"),
        ("en", "dishwasher leaking since install and the puddle reaches the extension lead"),
        ("es", "la nevera gotea y el agua llega a la regleta de la cocina"),
        ("en", "the lift doors closed on my grandad twice, he uses a walker"),
        ("es", "a la trona se le sueltan las piezas y mi nena casi se atraganta con una"),
    ],
)
def test_documents_exposed_water_near_electrics_and_people_hurt_are_safety(language: str, text: str) -> None:
    assert analyze_text(text, language).nature == "safety"
