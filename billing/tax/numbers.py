"""VAT and GST numbers: which scheme a country uses and whether a number is well formed.

Checked offline with python-stdnum (format, length and check digit), never against a tax
authority's register (VIES and the like): a number that passes could still be unregistered.
Pure functions, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from stdnum import exceptions
from stdnum.au import abn
from stdnum.ca import bn
from stdnum.ch import vat as ch_vat
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.in_ import gstin
from stdnum.no import mva
from stdnum.nz import ird

# ISO 3166-1 codes of the EU member states. Greece's VAT numbers start with EL, not GR.
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
EU_VAT_PREFIX = {"GR": "EL"}
MAX_INPUT = 40
ALLOWED = re.compile(r"^[A-Za-z0-9 .\-/]*$")


@dataclass(frozen=True)
class Scheme:
    label: str  # what the number is called in that country
    module: ModuleType


SCHEMES: dict[str, Scheme] = {
    **{country: Scheme("VAT number", eu_vat) for country in EU_COUNTRIES},
    "GB": Scheme("VAT number", gb_vat),
    "CH": Scheme("VAT number (UID)", ch_vat),
    "NO": Scheme("VAT number (MVA)", mva),
    "AU": Scheme("ABN (GST)", abn),
    "NZ": Scheme("GST number (IRD)", ird),
    "IN": Scheme("GSTIN", gstin),
    "CA": Scheme("Business number (GST/HST)", bn),
}

_PROBLEMS = {
    exceptions.InvalidChecksum: "its check digit is wrong",
    exceptions.InvalidLength: "it has the wrong number of characters",
    exceptions.InvalidFormat: "it has characters in the wrong places",
    exceptions.InvalidComponent: "a part of it (such as the region code) does not exist",
}


class TaxNumberError(ValueError):
    """A tax number the portal cannot accept; the message says why, for the customer."""


def scheme_for(country: str) -> Scheme | None:
    return SCHEMES.get(country.upper())


def normalize(raw: str, *, country: str, country_name: str) -> str:
    """The compact, validated number for `country`, or "" for an empty input.

    EU numbers are stored with their country prefix (``DE136695976``); one given without it
    gets the billing country's prefix, one with another member state's prefix is refused.
    """
    text = (raw or "").strip()
    if not text:
        return ""
    if len(text) > MAX_INPUT or not ALLOWED.match(text):
        raise TaxNumberError(
            "A tax number has at most 40 letters, digits, spaces, dots, dashes or slashes."
        )
    scheme = scheme_for(country)
    if scheme is None:
        raise TaxNumberError(
            f"The portal cannot check tax numbers from {country_name}; leave the field empty."
        )
    if scheme.module is eu_vat:
        text = _with_eu_prefix(text, country=country, country_name=country_name)
    try:
        return scheme.module.validate(text)
    except exceptions.ValidationError as exc:
        problem = next((why for kind, why in _PROBLEMS.items() if isinstance(exc, kind)), None)
        raise TaxNumberError(
            f"This is not a valid {scheme.label} for {country_name}: "
            f"{problem or 'it does not pass the check'}."
        ) from None


def _with_eu_prefix(text: str, *, country: str, country_name: str) -> str:
    compact = re.sub(r"[ .\-/]", "", text).upper()
    expected = EU_VAT_PREFIX.get(country, country)
    if len(compact) >= 2 and compact[:2].isalpha():
        if compact[:2] != expected:
            raise TaxNumberError(
                f"A VAT number from {country_name} starts with {expected}, not {compact[:2]}: the "
                "number must belong to the billing country."
            )
        return compact
    return expected + compact
