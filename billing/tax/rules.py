"""Which tax an invoice carries and how much: pure functions over plain data (Decimal).

Rules (docs/billing.md, "Tax"):

- The rate is the staff-managed rate of the customer's billing country in force on the last
  day of the billed month. No rate for that country: no tax line.
- EU reverse charge: the MSP and the customer are in different EU member states and the
  customer gave a valid VAT number. The invoice carries a 0 % line and the legal wording.
- Rounding: tax is computed **once per invoice** on the sum of the taxed lines (each already
  rounded to the minor unit), then rounded half-up to the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing import rating
from billing.tax.numbers import EU_COUNTRIES

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)."
)
HUNDRED = Decimal(100)


class Treatment:
    STANDARD = "standard"
    REVERSE_CHARGE = "reverse_charge"
    NONE = "none"


@dataclass(frozen=True)
class Rate:
    name: str  # VAT, GST, ...
    percent: Decimal


@dataclass(frozen=True)
class TaxDecision:
    treatment: str
    name: str = ""
    percent: Decimal | None = None  # None: no tax line
    note: str = ""

    @property
    def label(self) -> str:
        if self.percent is None:
            return ""
        text = f"{self.name} {format_percent(self.percent)} %"
        return f"{text} (reverse charge)" if self.treatment == Treatment.REVERSE_CHARGE else text


def decide(
    *, seller_country: str, buyer_country: str, buyer_vat_valid: bool, rate: Rate | None
) -> TaxDecision:
    """The tax an invoice from `seller_country` to `buyer_country` carries."""
    cross_border_eu = (
        seller_country in EU_COUNTRIES
        and buyer_country in EU_COUNTRIES
        and seller_country != buyer_country
    )
    if cross_border_eu and buyer_vat_valid:
        return TaxDecision(Treatment.REVERSE_CHARGE, "VAT", Decimal(0), REVERSE_CHARGE_NOTE)
    if rate is None:
        return TaxDecision(Treatment.NONE)
    return TaxDecision(Treatment.STANDARD, rate.name, rate.percent)


def tax_amount(*, taxable: Decimal, percent: Decimal, currency: str) -> Decimal:
    """Tax on a taxable sum, rounded once, half-up, to the currency's minor unit."""
    return rating.round_money(taxable * percent / HUNDRED, currency)


def invoice_tax(*, line_amounts: list[Decimal], percent: Decimal, currency: str) -> Decimal:
    """The invoice's tax: the sum of its lines, taxed once (never line by line)."""
    return tax_amount(taxable=sum(line_amounts, Decimal(0)), percent=percent, currency=currency)


def credit_tax(
    *,
    net: Decimal,
    percent: Decimal,
    currency: str,
    net_left: Decimal,
    tax_left: Decimal,
) -> Decimal:
    """The tax a credit note of `net` gives back (positive), against what is left to credit.

    A credit note that credits all the net still left gives back all the tax still left, so
    an invoice credited in full, in one note or several, nets to exactly zero.
    """
    if net >= net_left:
        return tax_left
    return min(tax_amount(taxable=net, percent=percent, currency=currency), tax_left)


def format_percent(percent: Decimal) -> str:
    text = format(percent.normalize(), "f")
    return text
