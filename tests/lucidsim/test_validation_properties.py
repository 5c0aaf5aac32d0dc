"""Property tests: the body parsers either accept a body or raise their own error, never crash."""

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lucidsim import validation
from lucidsim.http import BadJson, Request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
storages = st.fixed_dictionaries(
    {},
    optional={
        "owner": st.sampled_from(["customer", "lucidlink", "x"]) | json_values,
        "provider": st.sampled_from(validation.PROVIDERS) | json_values,
        "region": st.sampled_from(["us-east", "us-east-1", "eu-de", ""]) | json_values,
        "endpoint": st.sampled_from(["https://s3.example.net", "ftp://x"]) | json_values,
        "bucket": st.sampled_from(["media-bucket", "ab"]) | json_values,
    },
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "domain": st.text(max_size=40) | json_values,
        "name": st.from_regex(r"[a-z0-9-]{1,70}", fullmatch=True) | json_values,
        "version": st.sampled_from([3, 4, 3.0, 5, "3"]) | json_values,
        "subscriptionType": st.sampled_from(["custom", "basic", "teams", "enterprise", "none"])
        | json_values,
        "storage": storages | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(bodies | json_values)
def test_a_create_body_is_either_normalised_or_invalid(body):
    try:
        clean = validation.filespace_create(body)
    except validation.Invalid as exc:
        assert exc.reason
        return
    assert validation.FILESPACE_NAME_RE.fullmatch(clean["name"])
    assert clean["version"] in (3, 4)
    assert clean["storage"]["provider"] in validation.PROVIDERS
    owner, needed = (
        clean["storage"]["owner"],
        validation.SUBSCRIPTION_RULES[clean["subscriptionType"]],
    )
    assert owner == needed[1]
    json.dumps(clean)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_payment_details_are_either_clean_or_invalid(body):
    try:
        clean = validation.payment_details(body)
    except validation.Invalid:
        return
    assert set(clean) <= {"description", "paymentSourceToken", "card"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_request_body_parses_or_raises_bad_json(raw):
    request = Request("POST", "/", {}, {}, raw)
    with contextlib.suppress(BadJson):
        request.json()
