"""Which phone regions and national id countries count, and the card networks' number ranges.

Every check of a text for personal data must agree (triage, the reply guard, the
mapping's redaction), so the configured rules are set once per process by the runtime
(:func:`configure`) and read here; tests and tools may pass their own.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType

#: National identity numbers of people (not companies) per country, as python-stdnum modules.
NATIONAL_ID_MODULES: dict[str, tuple[str, ...]] = {
    "es": ("es.dni", "es.nie"),
    "pt": ("pt.cc", "pt.nif"),
    "fr": ("fr.nir",),
    "it": ("it.codicefiscale",),
    "de": ("de.idnr",),
    "nl": ("nl.bsn",),
    "be": ("be.nn",),
    "mx": ("mx.curp", "mx.rfc"),
    "ar": ("ar.dni", "ar.cuit"),
    "cl": ("cl.rut",),
    "co": ("co.nit",),
    "pe": ("pe.cui",),
    "br": ("br.cpf",),
    "us": (),  # SSNs have their own rule in connector.pii (written form, or after "SSN")
    "gb": (),  # National Insurance numbers: own rule in connector.pii (stdnum has none)
}

# (first digits range, inclusive), allowed lengths
_CARD_RANGES: tuple[tuple[str, int, int, tuple[int, ...]], ...] = (
    ("visa", 4, 4, (13, 16, 19)),
    ("mastercard", 51, 55, (16,)),
    ("mastercard", 2221, 2720, (16,)),
    ("amex", 34, 34, (15,)),
    ("amex", 37, 37, (15,)),
    ("diners", 300, 305, (14, 16, 17, 18, 19)),
    ("diners", 36, 36, (14, 16, 17, 18, 19)),
    ("diners", 38, 39, (14, 16, 17, 18, 19)),
    ("discover", 6011, 6011, (16, 17, 18, 19)),
    ("discover", 644, 649, (16, 17, 18, 19)),
    ("discover", 65, 65, (16, 17, 18, 19)),
    ("jcb", 3528, 3589, (16, 17, 18, 19)),
    ("unionpay", 62, 62, (16, 17, 18, 19)),
    ("maestro", 50, 50, tuple(range(12, 20))),
    ("maestro", 56, 69, tuple(range(12, 20))),
    ("mir", 2200, 2204, (16, 17, 18, 19)),
)


def card_network(digits: str) -> str | None:
    """The card network whose number range and length ``digits`` fits, if any."""
    for name, low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return name
    return None


@dataclass(frozen=True, slots=True)
class PiiRules:
    phone_regions: tuple[str, ...] = ("ES", "MX", "AR", "CO", "GB", "US")
    national_id_countries: tuple[str, ...] = ("es", "gb", "us", "mx")
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def national_id_modules(self) -> tuple[ModuleType, ...]:
        """The stdnum modules for the configured countries beyond Spain (Spain has its own rule)."""
        return _modules(tuple(c for c in self.national_id_countries if c != "es"))


@lru_cache(maxsize=32)
def _modules(countries: tuple[str, ...]) -> tuple[ModuleType, ...]:
    found = []
    for country in countries:
        for name in NATIONAL_ID_MODULES.get(country.lower(), ()):
            found.append(importlib.import_module(f"stdnum.{name}"))
    return tuple(found)


_active = PiiRules()
_lock = threading.Lock()


def configure(phone_regions: list[str], national_id_countries: list[str]) -> PiiRules:
    """Set the process-wide rules from the configuration; unknown countries are an error."""
    unknown = sorted({c.lower() for c in national_id_countries} - NATIONAL_ID_MODULES.keys())
    if unknown:
        raise ValueError(
            f"no national id rules for {', '.join(unknown)}; known: {', '.join(sorted(NATIONAL_ID_MODULES))}"
        )
    rules = PiiRules(tuple(r.upper() for r in phone_regions), tuple(c.lower() for c in national_id_countries))
    global _active
    with _lock:
        _active = rules
    return rules


def active_rules() -> PiiRules:
    return _active
