"""Personal data beyond Spain: UK NI numbers, US SSNs, Mexican CURP, configured regions and countries."""

from __future__ import annotations

import pytest

from connector.pii import iban_valid, pii_types
from connector.pii_rules import PiiRules, configure

CASES = [
    ("My NI number is JK 48 29 17 B in case you need it", ("national_id",)),
    ("NI: SH901277D", ("national_id",)),
    ("SSN on file is 417-82-0563", ("national_id",)),
    ("my ssn 536228190", ("national_id",)),
    ("CURP GOMA850315HDFRRN09 por si la necesitan", ()),  # not a valid CURP (check digit)
    ("meet at 10 30 45 A block", ()),
    ("order 000-12-3456", ()),  # area 000 is never issued
    ("Mi póliza es la 55-0001234-09", ()),
    ("contrato nº 612345678", ()),
    # references that look like phones: year + serial, receipts, complaints, dashed order codes
    ("Reclamo número 2026-118834, ¿me lo explican?", ()),
    ("Devolución nº 2024-55810", ()),
    ("Receipt 3308-1174-02, I'm near the store", ()),
    ("order #4471-2290-1183 arrived dented", ()),
    ("still a phone after a word: call 212-555-0187", ("phone",)),
    ("la cuenta ES50 1465 0100 9112 3456 7891 es la mía", ("iban",)),  # mod-97 right, bank check wrong
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_identifiers_of_the_default_countries(text: str, expected: tuple[str, ...]) -> None:
    assert pii_types(text) == expected


def test_ibans_need_the_countrys_length_and_mod_97() -> None:
    assert iban_valid("ES50 1465 0100 9112 3456 7891")
    assert not iban_valid("ES50 1465 0100 9112 3456 789")  # one digit short
    assert not iban_valid("ES51 1465 0100 9112 3456 7891")  # mod-97 fails


def test_countries_and_regions_come_from_the_configuration() -> None:
    spain_only = PiiRules(phone_regions=("ES",), national_id_countries=("es",))
    assert "national_id" not in pii_types("SSN 417-82-0563", spain_only)
    assert pii_types("call (415) 555-0132", spain_only) == ()
    assert pii_types("call (415) 555-0132", PiiRules(phone_regions=("US",))) == ("phone",)
    portugal = PiiRules(national_id_countries=("pt",))
    assert pii_types("o meu NIF é 123456789", portugal) == ("national_id",)


def test_an_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no national id rules for zz"):
        configure(["ES"], ["es", "zz"])


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("orden de servicio 55-20931, serie NB7731X0042", ()),
        ("Tracking JD0014 6672 9981 @Pixelane", ()),  # a code in groups after its keyword
        ("escríbeme al WhatsApp +52 1 55 7293 0418", ("phone",)),  # the old Mexican mobile "1"
        ("one order. card 5121 7771 3349 4555 if that helps", ("payment_card",)),
        ("solo hice un pedido. Tarjeta 2221 5341 6093 3500", ("payment_card",)),
        ("text CLAIM to 07700 900318 to get yours", ("phone",)),  # "to" qualifies nothing
        ("Pagué la reserva con la 5177293819655108 y me salen", ("payment_card",)),
        ("tengo el recibo. Mi número es +57 310 774 2281", ("phone",)),  # written as a phone
        ("the number on the order is (312) 555-0166 if that helps", ("phone",)),
        ("I'm home all day, 07700900629", ("phone",)),  # a bare UK mobile
        ("códigos que yo no he pedido. Mi numero es el 635 25 71 82", ("phone",)),  # the verb
        ("he hecho el pedido 612345678", ()),
        ("He knows our alarm code. My number is 07700 900762, please ring me", ("phone",)),
        ("el fijo no da tono. Nº cliente 100293847", ()),
        ("mi número de pedido es 612345678", ()),
        ("work order 612 345 678 still open", ()),
        ("mi pedido, mi móvil 612 345 678", ("phone",)),
        ("order id 5512 and my cell 07700 900123", ("phone",)),
    ],
)
def test_one_qualifying_word_after_a_reference_keeps_it_a_reference(
    text: str, kinds: tuple[str, ...]
) -> None:
    assert pii_types(text) == kinds
