"""Property-based run of the whole API against its own OpenAPI schema (schemathesis 4).

Every operation is called with generated valid and invalid input through the WSGI app, once
with an MSP key (the widest surface) and once with a customer key. It fails on any 5xx, any
undocumented status code or content type, and any response body or header that does not match
the schema.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.helpers import make_invoice

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(params=["msp", "customer"])
def seeded(request, db, monkeypatch, customer_factory, filespace_factory, api_key_factory):
    """A few real objects with low ids, so generated ids sometimes hit something; the key is an
    MSP key (every operation allowed) or a customer key (scoping and refusals)."""
    from portal.api.throttling import ApiKeyRateThrottle

    # The run sends thousands of requests; rate limiting is tested on its own elsewhere.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"apikey": None, "anon": None})
    # Schemathesis calls the WSGI app directly, not through Django's test client, so the
    # request signals would close the test's connection mid-transaction; keep it, as the
    # test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    customer = customer_factory()
    filespace_factory(customer=customer, state="active", remote_id="fs-1")
    filespace_factory(customer=customer, state="provisioned")
    make_invoice(customer)
    other = customer_factory()
    filespace_factory(customer=other, state="active", remote_id="fs-2")
    key = api_key_factory()[1] if request.param == "msp" else api_key_factory(customer=customer)[1]
    yield key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    from portal.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


# Loaded at collection through the WSGI app (no server, no database: the schema is static).
# The lazy `from_fixture` loader does not work with pytest 9.2, so the schema is eager here.
schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_never_errors_and_always_matches_its_schema(case, seeded):
    case.call_and_validate(headers={"Authorization": f"Bearer {seeded}"}, checks=CHECKS)
