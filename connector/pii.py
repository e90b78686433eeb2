"""Find personal data in free text: emails, phones, payment cards, IBANs, national ids.

Numbers are only flagged when they look like personal data *and* pass the checks the
real identifiers carry, done by well-kept libraries: python-stdnum (Luhn, IBAN mod-97
and per-country formats, Spanish DNI/NIE and other countries' ids) and phonenumbers
(possible numbers per configured region). Card numbers must also sit in a card
network's number range. Order numbers, prices, dates and model numbers stay out: the
context before a number ("pedido", "order nº", "€") rules it out as a reference. Found
spans are masked before the next, looser detector runs: a card must not count as a phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn
from stdnum.es import dni as stdnum_dni
from stdnum.es import nie as stdnum_nie

from connector.language import fold
from connector.pii_rules import PiiRules, active_rules, card_network

PII_TYPES: tuple[str, ...] = ("email", "phone", "payment_card", "iban", "national_id")

CARD_DIGITS = (13, 19)
CARD_GROUP = 4
CARD_GROUPINGS = frozenset({(4, 6, 5), (4, 6, 4)})  # American Express, Diners
IBAN_LENGTH = (15, 34)
PHONE_DIGITS_NATIONAL = (7, 12)
# A bare run of digits is a phone only in the Spanish mobile/landline shape (9 digits, 6-9),
# as a UK mobile (07 and 9 digits), or when the text says it is one.
BARE_PHONE_DIGITS = 9
BARE_PHONE_FIRST_DIGITS = frozenset("6789")
MEXICO = 52  # country calling code, for the old "+52 1" mobile form
MIN_PHONE_GROUP = 3
# How much text before a number is searched for "pedido", "order", "ticket"…
REFERENCE_LOOKBEHIND = 40


_MASK = "\x00"
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*\.[A-Za-z]{2,}(?!\w)"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,32}")
# After a space only a capital counts as the control letter: "12345678 y" is a number and a word.
_CONTROL_LETTER = r"(?:-?(?P<letter>[A-Za-z])| (?P<spaced>[A-Z]))(?!\w)"
_DNI = re.compile(r"(?<![\w.])(?P<number>\d{8}|\d{2}\.\d{3}\.\d{3})" + _CONTROL_LETTER)
_NIE = re.compile(r"(?<!\w)(?P<prefix>[XYZxyz])[ -]?(?P<number>\d{7})" + _CONTROL_LETTER)
_CARD = re.compile(r"(?<![\w@#/.,])\d(?:[ -]?\d){12,22}(?!\w|[.,]\d)")
_DATE = re.compile(
    r"(?<!\d)(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}[/.-]\d{1,2}[/.-]\d{1,2})(?![\d/.-]\d)"
)
# Not inside a longer token: "#4471-2290-1183" or "ABC-2290-1183" holds no phone.
_PHONE = re.compile(
    r"(?<![\w@#/.,+])(?<![\w#]-)(\+\s?|\b00(?=[1-9]))?\(?\d(?:[ .\-()]{1,2}\d|\d){6,16}(?!\w|[.,]\d)"
)
_YEAR_RANGE = re.compile(r"^(?:19|20)\d\d\s*[-/]\s*(?:19|20)\d\d$")
# A year, a dash or slash, then a serial ("2026-118834", "2024/55810") is a reference.
_YEAR_SERIAL = re.compile(r"^(?:19|20)\d\d[-/]\d{4,8}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")
_MONEY_BEFORE = re.compile(r"(?:[€$£]|\b(?:eur|usd|mxn|gbp))\s*$", re.IGNORECASE)
_MONEY_AFTER = re.compile(r"^\s*(?:[€$£]|(?:eur|euros?|usd|mxn|gbp|pesos?|dolares|dollars?|libras)\b)")
_FILLER = (
    r"(?:\s*(?:n[ºo°]\.?|num\.?|numero|number|no\.|nr\.?|de|del|the|es|is|el|la|los|las|mi|my|su|your|"
    r"was|era|[#:=.\-]))*"
)
_REFERENCE_BEFORE = re.compile(
    r"\b(?P<keyword>pedido|pedidos|order|orders|orden|ticket|caso|case|incidencia|factura|invoice|ref|referencia|"
    r"reference|seguimiento|tracking|modelo|model|serie|serial|sku|albaran|expediente|reclamacion|claim|"
    r"localizador|booking|reserva|envio|shipment|codigo|code|cp|postal|poliza|policy|contrato|contract|"
    r"socio|member|membership|abonado|suministro|cups|vuelo|flight|matricula|plate|imei|bastidor|vin|"
    # a customer number, but not "atención al cliente 900 100 200" (the brand's phone)
    r"n[o°]\.?\s*(?:de\s+)?cliente|cliente\s+n[o°]|numero\s+de\s+cliente|customer\s+(?:no|number|id)|"
    # receipts, returns, complaints and transactions carry reference numbers too
    r"reclamo|reclamos|queja|solicitud|tramite|radicado|folio|boleta|recibo|receipt|comprobante|"
    r"devolucion|return|rma|transaccion|transaction|operacion|confirmacion|confirmation|"
    r"localizador|pnr|tracking|parte|aviso)"
    + _FILLER
    # One qualifying word may follow ("orden de servicio 55-20931", "order id 5512"), or the
    # code's first group ("tracking JD0014 6672 9981"), unless it announces a contact number
    # ("pedido, mi móvil 612…" stays a phone) or a card, account or id ("one order. card 5121…").
    + r"(?:\s+(?!(?:movil|tel|telefono|telf|phone|mobile|cell|celular|whatsapp|contacto|contact|"
    r"llamar|llama|llamen|call|text|card|tarjeta|visa|mastercard|amex|iban|cuenta|account|"
    r"dni|nie|nif|ssn|correo|email|"
    # and a preposition or conjunction is no qualifier ("text CLAIM to 07700…", "reserva con la 5177…")
    r"to|at|on|al|con|with|para|for|por|by|from|desde|and|pero|but|me|us)\b)(?:[a-z]{2,12}|[a-z]{1,4}\d{1,10})"
    + _FILLER
    + r")?\s*$"
)


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One piece of personal data: its type and where it sits in the text."""

    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """Check the Luhn digit that every payment card number carries."""
    return digits.strip("0") != "" and stdnum_luhn.is_valid(digits)


def card_valid(digits: str) -> bool:
    """A card number: Luhn, and a length inside the range of a known card network."""
    return luhn_valid(digits) and card_network(digits) is not None


def iban_valid(candidate: str) -> bool:
    """Check an IBAN: country, length and BBAN format where python-stdnum knows them, mod-97."""
    compact = re.sub(r"[ -]", "", candidate).upper()
    # Country length and mod-97, not each country's inner BBAN checksum: a customer who
    # mistypes one digit of the bank's own check still posted their account in public.
    return (
        IBAN_LENGTH[0] <= len(compact) <= IBAN_LENGTH[1]
        and bool(stdnum_iban.is_valid(compact, check_country=False))
        and _iban_length_ok(compact)
    )


def _iban_length_ok(compact: str) -> bool:
    """The IBAN length registered for the country, when python-stdnum knows the country."""
    try:
        stdnum_iban.validate(compact)
    except stdnum_iban.InvalidLength:
        return False
    except stdnum_iban.ValidationError:
        return True  # only the inner BBAN check failed (see iban_valid)
    return True


def dni_valid(number: str, letter: str) -> bool:
    """Check a Spanish DNI's control letter (number modulo 23)."""
    return bool(stdnum_dni.is_valid(number + letter.upper()))


def nie_valid(prefix: str, number: str, letter: str) -> bool:
    """Check a Spanish NIE: X/Y/Z stand for 0/1/2, then the DNI rule."""
    return bool(stdnum_nie.is_valid(prefix.upper() + number + letter.upper()))


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + _MASK * (end - start) + text[end:]


def _is_reference(text: str, start: int) -> bool:
    """Say whether the number at ``start`` follows "pedido", "order nº", "ticket #"…"""
    before = fold(text[max(0, start - REFERENCE_LOOKBEHIND) : start])[0]
    found = _REFERENCE_BEFORE.search(before)
    if found is None or _CONTACT_BEFORE.search(before):
        return False  # "…our alarm code. My number is 07700…" announces a phone
    # "no he pedido. Mi número es el 635…": after an auxiliary, "pedido" is the verb, not an order.
    return not _AUXILIARY_BEFORE.search(before[: found.start("keyword")])


def _longest_valid(
    chunk: str, start: int, valid: Callable[[str], bool], bounds: tuple[int, int]
) -> int | None:
    """Return the end offset of the longest valid prefix of ``chunk`` cut at a group boundary.

    Greedy patterns swallow the next word or number ("ES91… gracias"); trying shorter
    prefixes at separators finds the identifier that is really there.
    """
    cuts = [m.start() for m in re.finditer(r"[ -]", chunk)] + [len(chunk)]
    for cut in sorted(cuts, reverse=True):
        compact = re.sub(r"[ -]", "", chunk[:cut])
        if bounds[0] <= len(compact) <= bounds[1] and valid(chunk[:cut]):
            return start + cut
    return None


def _iban_chunk_valid(chunk: str) -> bool:
    return iban_valid(re.sub(r"[ -]", "", chunk))


def _card_chunk_valid(chunk: str) -> bool:
    """Check Luhn, and that a grouped number is grouped like a card (4-4-4-4…, 4-6-5, 4-6-4).

    Without the grouping rule two phone numbers in a row ("612 345 678 699 111 222")
    would pass for a card one time in ten.
    """
    groups = tuple(len(g) for g in re.split(r"[ -]", chunk))
    grouped_like_card = (
        len(groups) == 1
        or groups in CARD_GROUPINGS
        or (all(g == CARD_GROUP for g in groups[:-1]) and 1 <= groups[-1] <= CARD_GROUP)
    )
    return grouped_like_card and card_valid(re.sub(r"[ -]", "", chunk))


def _find_emails(text: str) -> list[PiiMatch]:
    return [PiiMatch("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]


def _find_ibans(text: str) -> list[PiiMatch]:
    found = []
    for match in _IBAN.finditer(text):
        end = _longest_valid(match.group(), match.start(), _iban_chunk_valid, IBAN_LENGTH)
        if end is not None:
            found.append(PiiMatch("iban", match.start(), end))
    return found


def _find_national_ids(text: str) -> list[PiiMatch]:
    found = []
    for match in _DNI.finditer(text):
        if dni_valid(match["number"].replace(".", ""), match["letter"] or match["spaced"]):
            found.append(PiiMatch("national_id", match.start(), match.end()))
    for match in _NIE.finditer(text):
        if nie_valid(match["prefix"], match["number"], match["letter"] or match["spaced"]):
            found.append(PiiMatch("national_id", match.start(), match.end()))
    return found


def _find_cards(text: str) -> list[PiiMatch]:
    found = []
    for match in _CARD.finditer(text):
        if _is_reference(text, match.start()):
            continue
        end = _longest_valid(match.group(), match.start(), _card_chunk_valid, CARD_DIGITS)
        if end is not None:
            found.append(PiiMatch("payment_card", match.start(), end))
    return found


_CONTACT_BEFORE = re.compile(
    r"\b(?:my|mi|our|nuestro)\s+(?:(?:phone|mobile|cell|contact)\s+)?"
    r"(?:number|numero|telefono|movil|celular|cell|phone|mobile)(?:\s+(?:is|es|el))*\s*[:.-]?\s*$"
)
_AUXILIARY_BEFORE = re.compile(r"\b(?:he|ha|has|hemos|han|habia|habian|hubiera)\s+$")
_NANP_PARENS = re.compile(r"^\(\d{3}\)\s*\d{3}[-.\s]\d{4}$")
_UK_MOBILE = re.compile(r"^07\d{9}$")
_PHONE_CONTEXT = re.compile(
    r"\b(?:tel|telf|telefono|tlf|movil|celular|cel|whatsapp|wasap|wsp|llamame|llamar|llamadme|"
    r"phone|mobile|cell|call|text|ring|contact|contacto|numero|number)\b[^0-9]{0,20}$"
)



def _possible_phone(candidate: str, international: bool, regions: tuple[str, ...]) -> bool:
    """Ask phonenumbers whether ``candidate`` can be a number in one of ``regions``.

    "Possible" (the right length for the region's plan) rather than "valid": customers
    and test data use numbers from reserved fictional ranges (555, 07700 900…), which are
    still somebody's way of writing a phone number.
    """
    result = phonenumbers.ValidationResult.IS_POSSIBLE
    if international:
        normalized = "+" + re.sub(r"^\s*(?:\+|00)\s*", "", candidate)
        try:
            parsed = phonenumbers.parse(normalized, None)
        except phonenumbers.NumberParseException:
            return False
        if parsed.country_code == MEXICO and str(parsed.national_number).startswith("1"):
            # Mexican mobiles are still written with the "1" dropped from the plan in 2019
            # ("+52 1 55 7293 0418"); phonenumbers knows only the current form.
            parsed.national_number = int(str(parsed.national_number)[1:] or 0)
        return bool(phonenumbers.is_possible_number_with_reason(parsed) == result)
    for region in regions:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number_with_reason(parsed) == result:
            return True
    return False


def _looks_like_phone(text: str, match: re.Match[str], rules: PiiRules) -> bool:
    """Apply the shape rules that separate phones from amounts, years and order numbers."""
    candidate = match.group()
    digits = re.sub(r"\D", "", candidate)
    international = match.group(1) is not None
    has_separator = bool(re.search(r"[ .\-()]", candidate.lstrip("+ ")))
    # "+57 310…" and "(312) 555-0166" are written as phones whatever word comes before them.
    written_as_phone = candidate.lstrip().startswith("+") or bool(_NANP_PARENS.match(candidate))
    if not written_as_phone and _is_reference(text, match.start()):
        return False
    if _MONEY_BEFORE.search(text[: match.start()]):
        return False
    if _MONEY_AFTER.match(text[match.end() :]) or _YEAR_RANGE.match(candidate):
        return False
    if _YEAR_SERIAL.match(candidate):
        return False
    if international:
        return _possible_phone(candidate, True, rules.phone_regions)
    if not has_separator:
        # A bare run of digits is a phone in the Spanish mobile/landline shape, as a UK mobile
        # ("07700900629"), or when the text says it is one ("llámame al", "call me on").
        spanish_shape = len(digits) == BARE_PHONE_DIGITS and digits[0] in BARE_PHONE_FIRST_DIGITS
        uk_mobile = bool(_UK_MOBILE.match(digits))
        said = bool(_PHONE_CONTEXT.search(fold(text[max(0, match.start() - 40) : match.start()])[0]))
        return (spanish_shape or uk_mobile or said) and _possible_phone(candidate, False, rules.phone_regions)
    groups = re.findall(r"\d+", candidate)
    return (
        PHONE_DIGITS_NATIONAL[0] <= len(digits) <= PHONE_DIGITS_NATIONAL[1]
        and max(len(g) for g in groups) >= MIN_PHONE_GROUP
        and not _THOUSANDS.match(candidate)
        and _possible_phone(candidate, False, rules.phone_regions)
    )


def _find_phones(text: str, rules: PiiRules) -> list[PiiMatch]:
    return [
        PiiMatch("phone", m.start(), m.end())
        for m in _PHONE.finditer(text)
        if _looks_like_phone(text, m, rules)
    ]


_ID_TOKEN = re.compile(r"(?<![\w@#/.-])[A-Za-z0-9][A-Za-z0-9./-]{6,22}[A-Za-z0-9](?![\w@])")


# UK National Insurance number: two letters (not D F I Q U V; second not O; not BG GB KN NK
# NT TN ZZ), six digits, a suffix A-D; written with or without spaces.
_NINO = re.compile(
    r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?!\w)",
)
# US Social Security number in its written form (bare nine digits need the word "SSN").
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_SSN_BARE = re.compile(r"(?<!\d)\d{9}(?!\d)")
_SSN_CONTEXT = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\b[^0-9]{0,15}$", re.IGNORECASE)


def _find_special_ids(text: str, rules: PiiRules) -> list[PiiMatch]:
    """UK NI numbers and US SSNs, whose shapes python-stdnum does not cover or cannot tell apart."""
    found: list[PiiMatch] = []
    if "gb" in rules.national_id_countries:
        found += [PiiMatch("national_id", m.start(), m.end()) for m in _NINO.finditer(text)]
    if "us" in rules.national_id_countries:
        from stdnum.us import ssn

        for match in _SSN.finditer(text):
            if ssn.is_valid(match.group()) and not _is_reference(text, match.start()):
                found.append(PiiMatch("national_id", match.start(), match.end()))
        for match in _SSN_BARE.finditer(text):
            if _SSN_CONTEXT.search(text[max(0, match.start() - 30) : match.start()]) and ssn.is_valid(
                match.group()
            ):
                found.append(PiiMatch("national_id", match.start(), match.end()))
    return found


def _find_other_national_ids(text: str, rules: PiiRules) -> list[PiiMatch]:
    """Identity numbers of the other configured countries (python-stdnum validates them)."""
    modules = rules.national_id_modules()
    if not modules:
        return []
    found = []
    for match in _ID_TOKEN.finditer(text):
        token = match.group()
        if sum(c.isdigit() for c in token) < 6 or _is_reference(text, match.start()):
            continue
        if any(module.is_valid(token) for module in modules):
            found.append(PiiMatch("national_id", match.start(), match.end()))
    return found


def _mask_dates(text: str) -> str:
    """Hide dates so "12-03-2025" is not read as a phone; dates are not personal data here."""
    for match in _DATE.finditer(text):
        text = _mask(text, match.start(), match.end())
    return text


# Strict, structured detectors first; each one's findings are masked for the next.
_DETECTORS: tuple[Callable[[str], list[PiiMatch]], ...] = (
    _find_emails,
    _find_ibans,
    _find_national_ids,
    _find_cards,
)


def find_pii(text: str, rules: PiiRules | None = None) -> tuple[PiiMatch, ...]:
    """Return every piece of personal data found in ``text``, in reading order."""
    rules = rules or active_rules()
    working = text
    for url in _URL.finditer(text):
        working = _mask(working, url.start(), url.end())
    found: list[PiiMatch] = []
    for detector in _DETECTORS:
        for match in detector(working):
            found.append(match)
            working = _mask(working, match.start, match.end)
    for match in [*_find_special_ids(working, rules), *_find_other_national_ids(working, rules)]:
        found.append(match)
        working = _mask(working, match.start, match.end)
    found += _find_phones(_mask_dates(working), rules)
    return tuple(sorted(found, key=lambda m: m.start))


def pii_types(text: str, rules: PiiRules | None = None) -> tuple[str, ...]:
    """Return the PII types present in ``text``, in the canonical order of ``PII_TYPES``."""
    kinds = {match.kind for match in find_pii(text, rules)}
    return tuple(kind for kind in PII_TYPES if kind in kinds)
