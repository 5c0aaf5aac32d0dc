"""Every worked example in docs/billing.md is rated here, so the document cannot drift."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from billing import rating

DOC = Path(__file__).resolve().parents[2] / "docs" / "billing.md"
BLOCK = re.compile(r"```rating-example\n(.*?)```", re.DOTALL)


def doc_examples() -> list[dict]:
    return [yaml.safe_load(block) for block in BLOCK.findall(DOC.read_text())]


def utc_at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def samples_of(usage: list) -> list[rating.Sample]:
    samples = []
    for start, end, used in usage:
        cursor = utc_at(start).timestamp()
        while cursor < utc_at(end).timestamp():
            samples.append(rating.Sample(datetime.fromtimestamp(cursor, tz=UTC), int(used)))
            cursor += 3600
    return samples


def terms_of(spec: dict) -> rating.PlanTerms:
    return rating.PlanTerms(
        currency=spec["currency"],
        unit=spec["unit"],
        price_per_unit_month=Decimal(spec["price"]),
        quantity_rule=spec.get("rule", "time_weighted"),
        included_units=Decimal(spec.get("included", "0")),
        minimum_monthly_charge=Decimal(spec.get("minimum", "0")),
        tiers=tuple(
            rating.Tier(None if t["up_to"] is None else Decimal(t["up_to"]), Decimal(t["price"]))
            for t in spec.get("tiers", [])
        ),
    )


def test_the_document_has_worked_examples():
    assert len(doc_examples()) >= 12


@pytest.mark.parametrize("example", doc_examples(), ids=lambda e: f"{e['month']}-{e['expect']}")
def test_each_worked_example_rates_as_written(example):
    year, month = (int(part) for part in example["month"].split("-"))
    month_start, month_end = rating.month_bounds(year, month)
    window = example.get("window")
    start, end = (utc_at(window[0]), utc_at(window[1])) if window else (month_start, month_end)
    line = rating.rate_usage(
        terms=terms_of(example["terms"]),
        samples=samples_of(example["usage"]),
        window_start=start,
        window_end=end,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=3600,
    )
    expect = example["expect"]
    assert line.quantity == Decimal(expect["quantity"])
    assert line.amount == Decimal(expect["amount"])
    assert str(line.amount) == expect["amount"]
    if "gap_slots" in expect:
        assert line.gap_slots == expect["gap_slots"]
    if "included" in expect:
        assert line.included == Decimal(expect["included"])
    if "minimum" in expect:
        assert line.minimum_prorated == Decimal(expect["minimum"])
    if "true_up" in expect:
        true_up = rating.minimum_true_up([(line.minimum_prorated, line.amount)])
        assert true_up == Decimal(expect["true_up"])


@pytest.mark.parametrize("example", doc_examples(), ids=lambda e: f"{e['month']}-{e['expect']}")
def test_each_worked_example_rates_the_same_from_its_month_summary(example):
    """Where the month summary covers the example's window, it gives the same line to the digit."""
    from billing import summary

    year, month = (int(part) for part in example["month"].split("-"))
    month_start, month_end = rating.month_bounds(year, month)
    window = example.get("window")
    start, end = (utc_at(window[0]), utc_at(window[1])) if window else (month_start, month_end)
    samples = rating.series_of(samples_of(example["usage"]))
    month_summary = summary.summarize(samples, 3600)
    bounds = (int(start.timestamp()), int(end.timestamp()))
    if not summary.covers(month_summary, *bounds, None):
        # The window cuts into the samples: the summary refuses, such a line is rated from raw.
        with pytest.raises(summary.SummaryError):
            summary.window_figures(month_summary, *bounds, None, "time_weighted")
        return
    rated = {
        name: rating.rate_usage(
            terms=terms_of(example["terms"]),
            samples=source,
            window_start=start,
            window_end=end,
            month_start=month_start,
            month_end=month_end,
            slot_seconds=3600,
        )
        for name, source in (("raw", samples), ("summary", month_summary))
    }

    assert rated["summary"] == rated["raw"]
    assert str(rated["summary"].amount) == example["expect"]["amount"]


TAX_BLOCK = re.compile(r"```tax-example\n(.*?)```", re.DOTALL)


def _tax_examples() -> list[dict]:
    return [yaml.safe_load(block) for block in TAX_BLOCK.findall(DOC.read_text())]


def test_the_document_has_tax_worked_examples():
    examples = _tax_examples()
    assert len(examples) >= 5
    assert {e["expect"].get("treatment") for e in examples} >= {"reverse_charge", "standard"}
    assert any("credits" in e for e in examples)
    # The rounding rule is shown by an example where per-line rounding would differ.
    assert any(e["expect"]["per_line_tax"] != e["expect"]["tax"] for e in examples
               if "per_line_tax" in e["expect"])  # fmt: skip


@pytest.mark.parametrize("example", _tax_examples(), ids=lambda e: f"{e['lines']}-{e['expect']}")
def test_each_tax_worked_example_computes_as_written(example):
    from billing.tax import numbers, rules

    currency, expect = example["currency"], example["expect"]
    lines = [Decimal(amount) for amount in example["lines"]]
    buyer = example.get("buyer", "DE")
    number = numbers.normalize(example.get("vat_number", ""), country=buyer, country_name=buyer)
    decision = rules.decide(
        seller_country=example.get("seller", "DE"),
        buyer_country=buyer,
        buyer_vat_valid=bool(number),
        rate=rules.Rate("VAT", Decimal(example["rate"])),
    )
    tax = rules.invoice_tax(line_amounts=lines, percent=decision.percent, currency=currency)
    subtotal = sum(lines, Decimal(0))

    assert str(subtotal) == expect["subtotal"]
    assert str(tax) == expect["tax"]
    assert str(subtotal + tax) == expect["total"]
    if "treatment" in expect:
        assert decision.treatment == expect["treatment"]
        if decision.treatment == rules.Treatment.REVERSE_CHARGE:
            assert "Reverse charge" in decision.note and "Article 196" in decision.note
    if "per_line_tax" in expect:
        per_line = sum(
            rules.tax_amount(taxable=line, percent=decision.percent, currency=currency)
            for line in lines
        )
        assert str(per_line) == expect["per_line_tax"]
    if "credits" in example:
        net_left, tax_left, given = subtotal, tax, []
        for credit in (Decimal(amount) for amount in example["credits"]):
            back = rules.credit_tax(net=credit, percent=decision.percent, currency=currency,
                                    net_left=net_left, tax_left=tax_left)  # fmt: skip
            given.append(str(back))
            net_left, tax_left = net_left - credit, tax_left - back
        assert given == expect["credit_taxes"]
        assert (net_left, tax_left) == (0, 0)
