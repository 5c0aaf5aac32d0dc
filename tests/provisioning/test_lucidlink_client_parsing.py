"""Parsing at the edge: any answer becomes a dataclass or a MalformedResponse, nothing else."""

import copy
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import lucidlink
from provisioning.lucidlink import types

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

FILESPACE = {
    "id": "fs-1",
    "domain": "dom-1",
    "name": "media",
    "status": "initialized",
    "subscriptionType": "teams",
    "version": 3,
    "usersCount": 1,
    "storage": {"owner": "lucidlink", "provider": "IBM", "region": "us-east"},
    # Distinct numbers, so a parser that reads one field into another is caught.
    "stats": {
        "usedStorage": 11,
        "filespaceSize": 12,
        "getRequestCount": 13,
        "getDataSize": 14,
        "putRequestCount": 15,
        "putDataSize": 16,
        "listRequestCount": 17,
        "deleteRequestCount": 18,
    },
}
PERIOD = {
    "start": 1764547200000,
    "end": 1767225600000,
    "subscriptionStatus": "active",
    "amountDue": 100,
    "amountDueForecast": 300,
    "currency": "USD",
    "trialDays": 0,
    "filespaceBreakdown": [
        {
            "filespace": "fs-1",
            "name": "media",
            "amountDue": 100,
            "amountDueForecast": 300,
            "isDeleted": True,
            "storageOwner": "lucidlink",
            "usageByDimension": [{"dimension": "ManagedCapacity", "usage": 5}],
        }
    ],
}
PARSERS = [
    (types.parse_filespace, FILESPACE),
    (types.parse_billing_period, PERIOD),
    (types.parse_domain, {"id": "d", "name": "msp"}),
]


def paths(value, prefix=()):
    """Every (path to a value) inside a JSON document."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def replaced(document, path, new):
    result = copy.deepcopy(document)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return result


def parses_or_is_malformed(parse, document) -> None:
    """Any other exception (KeyError, TypeError, ...) fails the test."""
    try:
        result = parse(document)
    except lucidlink.MalformedResponse as exc:
        assert exc.message.startswith("LucidLink ")
        return
    assert dataclasses.is_dataclass(result)


EXPECTED = {
    types.parse_filespace: types.RemoteFilespace(
        id="fs-1",
        domain_id="dom-1",
        name="media",
        status="initialized",
        subscription_type="teams",
        version=3,
        users_count=1,
        storage=types.FilespaceStorage(
            owner="lucidlink", provider="IBM", region="us-east", endpoint=None, bucket=None
        ),
        stats=types.FilespaceStats(
            used_storage=11,
            filespace_size=12,
            get_request_count=13,
            get_data_size=14,
            put_request_count=15,
            put_data_size=16,
            list_request_count=17,
            delete_request_count=18,
        ),
    ),
    types.parse_billing_period: types.BillingPeriod(
        start=datetime(2025, 12, 1, tzinfo=UTC),
        end=datetime(2026, 1, 1, tzinfo=UTC),
        subscription_status="active",
        amount_due=100,
        amount_due_forecast=300,
        currency="USD",
        trial_days=0,
        filespaces=(
            types.FilespaceLineItem(
                filespace_id="fs-1",
                name="media",
                amount_due=100,
                amount_due_forecast=300,
                is_deleted=True,
                storage_owner="lucidlink",
                storage_provider=None,
                subscription_type=None,
                usage=(types.FilespaceUsage(dimension="ManagedCapacity", usage=Decimal(5)),),
            ),
        ),
    ),
    types.parse_domain: types.Domain(id="d", name="msp"),
}


@pytest.mark.parametrize(("parse", "valid"), PARSERS)
def test_the_sample_answers_parse_to_exactly_their_values(parse, valid):
    assert parse(valid) == EXPECTED[parse]


def test_a_billing_line_answers_its_usage_by_dimension():
    period = copy.deepcopy(PERIOD)
    usage = period["filespaceBreakdown"][0]["usageByDimension"]
    usage.append({"dimension": "FilespaceUsers", "usage": 2.5})
    line = types.parse_billing_period(period).filespaces[0]
    assert line.managed_capacity == Decimal(5)
    assert line.filespace_users == Decimal("2.5")
    assert line.usage_of("Egress") is None


@pytest.mark.parametrize(("parse", "valid"), PARSERS)
@given(data=st.data())
def test_any_field_replaced_by_anything_parses_or_is_malformed(parse, valid, data):
    path = data.draw(st.sampled_from(list(paths(valid))))
    document = replaced(valid, path, data.draw(json_values))

    parses_or_is_malformed(parse, document)


@pytest.mark.parametrize(("parse", "valid"), PARSERS)
@given(document=json_values)
def test_arbitrary_json_parses_or_is_malformed(parse, valid, document):
    parses_or_is_malformed(parse, document)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("stats", "filespaceSize"), None),
        (("storage", "provider"), None),
        (("storage",), None),
        (("name",), None),
        (("stats", "usedStorage"), float("inf")),
        (("stats", "usedStorage"), float("nan")),
        (("storage", "provider"), 5),
        (("version",), "3"),
        (("usersCount",), 1.5),
        (("id",), ""),
        (("domain",), ""),
    ],
)
def test_a_missing_or_wrong_typed_filespace_field_is_named_in_the_error(path, value):
    with pytest.raises(lucidlink.MalformedResponse, match=path[-1]):
        types.parse_filespace(replaced(FILESPACE, path, value))


@pytest.mark.parametrize("start", [10**20, -(10**20)])
def test_an_impossible_period_time_is_malformed(start):
    with pytest.raises(lucidlink.MalformedResponse, match="start"):
        types.parse_billing_period({**PERIOD, "start": start})


def test_a_deleted_filespace_line_keeps_its_flag_and_usage():
    (line,) = types.parse_billing_period(PERIOD).filespaces

    assert line.is_deleted is True
    assert line.managed_capacity == 5
    assert line.filespace_users is None
