"""VAT and GST numbers on the billing profile: accepted in their country's form, refused clearly."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.tax import numbers


def normalize(raw: str, country: str) -> str:
    return numbers.normalize(raw, country=country, country_name=country)


@pytest.mark.parametrize(
    ("raw", "country", "stored"),
    [
        ("DE136695976", "DE", "DE136695976"),
        ("de 136.695.976", "DE", "DE136695976"),
        ("136695976", "DE", "DE136695976"),  # the billing country's prefix is added
        ("FR 40 303 265 045", "FR", "FR40303265045"),
        ("IE6388047V", "IE", "IE6388047V"),
        ("51 824 753 556", "AU", "51824753556"),
        ("49-091-850", "NZ", "49091850"),
        ("27AAPFU0939F1ZV", "IN", "27AAPFU0939F1ZV"),
        ("GB980780684", "GB", "980780684"),
        ("", "DE", ""),
        ("   ", "US", ""),
    ],
)
def test_a_valid_number_is_stored_in_its_compact_form(raw, country, stored):
    assert normalize(raw, country) == stored


@pytest.mark.parametrize(
    ("raw", "country", "message"),
    [
        ("DE136695977", "DE", "check digit is wrong"),
        ("DE13669597", "DE", "wrong number of characters"),
        ("FR40303265045", "DE", "starts with DE, not FR"),
        ("51 824 753 557", "AU", "check digit is wrong"),
        ("12-3456789", "US", "cannot check tax numbers from US"),
        ("<script>alert(1)</script>", "DE", "at most 40 letters, digits"),
        ("DE" + "1" * 60, "DE", "at most 40"),
    ],
)
def test_a_wrong_number_is_refused_with_the_reason(raw, country, message):
    with pytest.raises(numbers.TaxNumberError, match=message):
        normalize(raw, country)


def test_a_greek_number_uses_the_el_prefix():
    with pytest.raises(numbers.TaxNumberError, match="starts with EL, not GR"):
        normalize("GR094259216", "GR")
    assert normalize("094259216", "GR") == "EL094259216"


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=60), country=st.sampled_from(["DE", "FR", "GR", "AU", "IN", "US"]))
def test_any_input_is_either_a_valid_number_or_a_clear_refusal(raw, country):
    try:
        stored = normalize(raw, country)
    except numbers.TaxNumberError as exc:
        assert str(exc).endswith(".") and len(str(exc)) < 200
    else:
        # Whatever is accepted is the scheme's own valid compact form (or nothing at all).
        scheme = numbers.scheme_for(country)
        assert stored == "" or scheme.module.is_valid(stored)
