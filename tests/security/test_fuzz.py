"""No input gives a 5xx: every URL pattern and every API operation, with hostile values.

The URL patterns come from the resolver and the API operations from the OpenAPI schema, so a
new page or endpoint is fuzzed without anyone listing it. Each one is called with hostile values
in each path parameter, in every query parameter and form field the project reads, and (on the
API) in every field of its request body. A response below 500 is the only pass; on the API it
must also be JSON, the API's own error shape. Every HTML response must carry the CSP header.

It runs on PostgreSQL in CI: PostgreSQL refuses what SQLite swallows (NUL characters, integers
past 64 bits), which is where most 500s hid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django import forms
from django.test import Client

from tests.security.urlwalk import Route, all_routes

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BIG = "9" * 30  # past any integer column
PASSWORD = "correct-horse-battery-9"  # the user_factory's
# Values for query parameters, form fields and JSON strings.
HOSTILE = [
    "\x00",
    "a\r\nX-Injected: 1",
    "'\"<script>alert(1)</script>%;--",
    BIG,
    "-1",
    "x" * 5000,
    "2026-13-45T99:99",
    "NaN",
]
# One field at a time: the character PostgreSQL refuses where SQLite would not. (Numbers past
# 64 bits go in every field at once above; most fields parse them before any query.)
SINGLE = ["\x00"]
# Path parameters: what each converter lets through to the view.
HOSTILE_INT_PATH = ["9223372036854775808", BIG]
HOSTILE_STR_PATH = ["%00", "%0D%0A'%22<>", "x" * 300, "%FF%F0%9F%92%A9"]
HOSTILE_JSON = ["[" * 50_000, '{"a":' * 5000, "null", "[]", '"x"', "{", "\x00", "1e999"]


READ_PATTERN = re.compile(r'\.(?:GET|POST|query_params|data)(?:\.get\(\s*|\[)"(\w+)"')
PROJECT_PACKAGES = ("portal", "billing", "provisioning")
# Parameters every page may see: the admin's list controls, pagination and redirects.
COMMON_NAMES = {"q", "o", "p", "e", "all", "next", "cursor", "page_size", "_changelist_filters"}
ACCOUNT_NAMES = {"email", "password", "password1", "password2", "login", "code", "key", "remember"}


def _names_read_in(package: str) -> set[str]:
    """Query parameters and form fields read by the code of one package (e.g. portal.staff)."""
    names: set[str] = set()
    folder = ROOT.joinpath(*package.split("."))
    for path in folder.rglob("*.py") if folder.is_dir() else [folder.with_suffix(".py")]:
        if path.exists():
            names.update(READ_PATTERN.findall(path.read_text()))
    for form_class in _subclasses(forms.BaseForm):
        if form_class.__module__.startswith(package):
            names.update(getattr(form_class, "base_fields", {}))
    return names


def _read_names() -> set[str]:
    """Every query parameter and form field name the project's code reads."""
    names = set().union(*(_names_read_in(package) for package in PROJECT_PACKAGES))
    return names | COMMON_NAMES


def _names_for(route: Route) -> set[str]:
    """The names the route's own view is likely to read, for one-at-a-time fuzzing."""
    if route.name.startswith("admin:"):
        return set()  # Django's own admin: the all-at-once sweep is enough
    if route.module.startswith(PROJECT_PACKAGES):
        package = ".".join(route.module.split(".")[:-1]) or route.module
        return _names_read_in(package) | COMMON_NAMES
    if route.module.startswith("allauth"):
        return ACCOUNT_NAMES | COMMON_NAMES
    return COMMON_NAMES


def _subclasses(cls) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


@pytest.fixture
def world(
    monkeypatch,
    settings,
    customer_factory,
    filespace_factory,
    member_factory,
    user_factory,
    plan_factory,
):
    """A staff member with TOTP who also owns a customer with one of everything."""
    from allauth.mfa.totp.internal.auth import TOTP

    from portal.apikeys.services import apikey_create
    from tests.api.helpers import make_invoice
    from tests.security.conftest import SECRET

    # Pages read the MSP's LucidLink domain; rate limits are tested on their own.
    monkeypatch.setattr("portal.orders.views.domain_name", lambda: "msp-demo")
    from portal.api.throttling import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"apikey": None, "anon": None})
    settings.ACCOUNT_RATE_LIMITS = False
    staff = user_factory("fuzz@msp.example", is_staff=True, is_superuser=True)
    TOTP.activate(staff, SECRET)
    customer = customer_factory()
    member_factory(role="owner", customer=customer, user=staff)
    plan_factory(slug="fuzz-plan")
    active = filespace_factory(customer=customer, state="active", remote_id="fs-1")
    filespace_factory(customer=customer, state="provisioned")
    make_invoice(customer)
    _more_rows(staff=staff, customer=customer, filespace=active)
    _key, msp_key = apikey_create(name="msp", created_by=staff)
    # Staff act on the MSP side, so a customer key comes from one of the customer's owners.
    owner = member_factory(role="owner", customer=customer).user
    _key, customer_key = apikey_create(name="c", created_by=owner, customer=customer)
    return staff, msp_key, customer_key


def _more_rows(*, staff, customer, filespace) -> None:
    from portal.customers.models import CustomerTermination, Invitation
    from portal.webhooks.models import Delivery, Event, Subscription
    from provisioning.managed.models import FilespaceUser, SnapshotSchedule

    subscription = Subscription.objects.create(
        customer=customer, url="https://hooks.example.com/x", event_types=[], created_by=staff
    )
    event = Event.objects.create(event_type="order.placed", customer=customer, dedupe_key="e:1")
    Delivery.objects.create(subscription=subscription, event=event)
    Invitation.objects.create(
        customer=customer,
        email="x@example.com",
        token_hash="f" * 64,
        invited_by=staff,
        expires_at="2999-01-01T00:00:00Z",
    )
    FilespaceUser.objects.create(filespace=filespace, name="fuzz-user")
    SnapshotSchedule.objects.create(filespace=filespace, name="s", interval="1d", retention=1)
    CustomerTermination.objects.create(
        customer=customer, reason="r", previous_status="active", requested_by=staff
    )
    _billing_rows(staff=staff, customer=customer, filespace=filespace)


def _billing_rows(*, staff, customer, filespace) -> None:
    """A row of each payments, tax and plan-change model, so their pages and admin are reached."""
    from datetime import date
    from decimal import Decimal

    from billing.models import Invoice, PlanChange, RollupMark
    from billing.payments.models import Dunning, Payment, PaymentAccount, StripeEvent
    from billing.tax.models import BillingProfile, TaxRate

    invoice = Invoice.objects.filter(customer=customer).first()
    PaymentAccount.objects.create(customer=customer, card_brand="visa", card_last4="4242")
    Payment.objects.create(
        customer=customer, invoice=invoice, kind=Payment.Kind.CHARGE, amount=Decimal("1.00"),
        currency=invoice.currency, idempotency_key="fuzz-charge",
    )  # fmt: skip
    Dunning.objects.create(customer=customer, invoice=invoice)
    StripeEvent.objects.create(event_id="evt_fuzz", type="payment_intent.succeeded")
    BillingProfile.objects.create(
        customer=customer, legal_name="Fuzz Ltd", address_line1="1 Road", city="Berlin",
        country="DE",
    )  # fmt: skip
    TaxRate.objects.create(country="DE", percent=Decimal("19"), valid_from=date(2026, 1, 1))
    PlanChange.objects.create(
        filespace=filespace, from_plan=filespace.plan, to_plan=filespace.plan,
        state=PlanChange.State.choices[0][0], requested_by=staff,
    )  # fmt: skip
    RollupMark.objects.create(name="daily")


def _first_ids() -> dict[str, str]:
    """The id of one real row per model label, so hostile values reach past the 404."""
    from django.apps import apps

    ids = {}
    for model in apps.get_models():
        pk = model.objects.order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            ids[model._meta.label_lower] = str(pk)
    return ids


# URL name (or the start of one) -> the model whose id each integer parameter takes.
REAL_OBJECTS = {
    "filespaces:schedule_delete": {"pk": "provisioning.snapshotschedule"},
    "filespaces:user_delete": {"pk": "provisioning.filespaceuser"},
    "filespaces:": {"pk": "provisioning.filespace"},
    "staff:filespace_": {"pk": "provisioning.filespace"},
    "orders:": {"pk": "orders.order"},
    "staff:order_": {"pk": "orders.order"},
    "billing:staff_customer": {"customer_pk": "customers.customer"},
    "billing:": {"pk": "billing.invoice", "line_pk": "billing.invoiceline"},
    "customers:invitation_revoke": {"pk": "customers.invitation"},
    "customers:member_": {"pk": "customers.membership"},
    "staff:customer": {"pk": "customers.customer"},
    "staff:plan_": {"pk": "plans.plan"},
    "staff:termination_": {"pk": "customers.customertermination"},
    "staff:plan_change_": {"pk": "billing.planchange"},
    "payments:payment": {"pk": "payments.payment"},
    "payments:invoice_pay": {"pk": "billing.invoice"},
    "apikeys:msp_delivery_replay": {"pk": "webhooks.delivery"},
    "apikeys:customer_webhook_delete": {"pk": "webhooks.subscription"},
    "apikeys:msp_webhook_delete": {"pk": "webhooks.subscription"},
    "apikeys:": {"pk": "apikeys.apikey"},
}


# Text path parameters: a plausible value, so the view gets past its lookup.
STR_VALUES = {
    "plan": "fuzz-plan",
    "slug": "fuzz-plan",
    "app_label": "customers",
    "action": "finalize",
    "token": "t" * 43,
    "key": "draft",
    "rest": "v1/nowhere",
    "url": "nowhere/",
}


def _real_values(route: Route, ids: dict[str, str]) -> dict[str, str] | None:
    """Path values naming real rows, or None when the route takes something else."""
    if route.name.startswith("admin:") and route.params:
        match = re.match(r"/admin/(\w+)/(\w+)/\{(?:object_id|id)\}/", route.template)
        label = f"{match.group(1)}.{match.group(2)}" if match else ""
        if label not in ids:
            return None
        return {key: ids[label] for key, _converter in route.params}
    models = next((m for p, m in REAL_OBJECTS.items() if route.name.startswith(p)), {})
    values = {}
    for key, _converter in route.params:
        if route.param_is_int(key):
            values[key] = ids.get(models.get(key, ""), "")
        else:
            values[key] = STR_VALUES.get(key, "")
    return values if all(values.values()) else None


def _sign_in_again(client: Client, staff) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.security.conftest import SECRET

    if not Authenticator.objects.filter(user=staff, type="totp").exists():
        TOTP.activate(staff, SECRET)
    if not staff.check_password(PASSWORD):
        staff.set_password(PASSWORD)
        staff.save(update_fields=["password"])
    client.force_login(staff)
    # Destructive staff actions ask for the password again; answer, so the sweep reaches them.
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})


def _hostile_path_values(route: Route) -> list[dict[str, str]]:
    if not route.params:
        return []
    runs = []
    for index in range(max(len(HOSTILE_INT_PATH), len(HOSTILE_STR_PATH))):
        values = {}
        for key, _converter in route.params:
            pool = HOSTILE_INT_PATH if route.param_is_int(key) else HOSTILE_STR_PATH
            values[key] = pool[index % len(pool)]
        runs.append(values)
    return runs


# Routes whose 503 is an answer, not a failure (reason given).
DELIBERATE_503 = {"/healthz/ready": "the readiness probe says 503 while a dependency is down"}


def _assert_sound(response, where: str) -> None:
    path = where.split(" ")[1].split("?")[0]
    if response.status_code == 503 and path in DELIBERATE_503:
        return
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    content_type = response.get("Content-Type", "")
    if content_type.startswith("text/html"):
        policy = response.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (
            f"{where} is an HTML page without the CSP header"
        )


# It sweeps every route of the product, so it grows with it: seen at 300 s+ on a loaded machine.
@pytest.mark.timeout(1200)
def test_no_url_pattern_answers_a_5xx_to_hostile_input(world):
    staff, _msp_key, _customer_key = world
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(staff)
    anonymous = Client(raise_request_exception=False)
    names = sorted(_read_names())
    routes = [route for route in all_routes() if not route.template.startswith("/api/v1/")]
    assert len(routes) > 250
    ids = _first_ids()
    swept = 0
    for route in routes:
        # An earlier route may have signed the person out or switched their second factor off.
        _sign_in_again(signed_in, staff)
        for path_values in _hostile_path_values(route):
            url = route.build(path_values)
            _assert_sound(signed_in.get(url), f"GET {url}")
            _assert_sound(signed_in.post(url, {"q": "x"}), f"POST {url}")
        real = _real_values(route, ids)
        if real is None:
            continue
        url = route.build(real)
        _assert_sound(anonymous.get(url), f"GET {url}")
        swept += 1
        # Everything at once, each hostile value in turn...
        for value in HOSTILE if not route.name.startswith("admin:") else HOSTILE[:3]:
            query = dict.fromkeys(names, value)
            _assert_sound(signed_in.get(url, query), f"GET {url} ?…={value[:20]!r}")
            _assert_sound(signed_in.post(url, query), f"POST {url} …={value[:20]!r}")
        # ...then one parameter at a time, as one invalid field can hide the others.
        for name in sorted(_names_for(route)):
            for value in SINGLE:
                _assert_sound(signed_in.get(url, {name: value}), f"GET {url}?{name}={value!r}")
                _assert_sound(signed_in.post(url, {name: value}), f"POST {url} {name}={value!r}")
    # Most routes were reached with real objects, not only turned away at the door.
    assert swept > 0.8 * len(routes), f"only {swept} of {len(routes)} reached with real rows"


# --- The API, operation by operation from its schema -------------------------------------------


def _operations() -> list[tuple[str, str, dict, dict]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            if body and "$ref" in body:
                body = components[body["$ref"].rsplit("/", 1)[1]]
            found.append((method, path, operation, body or {}))
    return found


def _api_call(
    client: Client, method: str, url: str, key: str, *, query=None, body=None, headers=None
):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    extra.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()})
    if method == "get":
        return client.get(url, query or {}, **extra)
    if query:
        url += "?" + "&".join(f"{k}=x" for k in query)
    if isinstance(body, str):
        return client.generic(method.upper(), url, body, "application/json", **extra)
    import json

    return client.generic(method.upper(), url, json.dumps(body or {}), "application/json", **extra)


def _assert_api_sound(response, where: str) -> None:
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), (
            f"{where} answered {response.status_code} in {response['Content-Type']}"
        )
        assert "error" in response.json(), where


def test_no_api_operation_answers_a_5xx_to_hostile_input(world):
    _staff, msp_key, customer_key = world
    client = Client(raise_request_exception=False)
    operations = _operations()
    assert len(operations) >= 20
    for method, path, operation, body_schema in operations:
        parameters = operation.get("parameters", [])
        query_names = [p["name"] for p in parameters if p["in"] == "query"]
        header_names = [p["name"] for p in parameters if p["in"] == "header"]
        properties = list(body_schema.get("properties", {}))
        for key in (msp_key, customer_key):
            for index, value in enumerate(HOSTILE):
                path_value = HOSTILE_INT_PATH[index % len(HOSTILE_INT_PATH)]
                if index % 2:
                    path_value = HOSTILE_STR_PATH[index % len(HOSTILE_STR_PATH)]
                url = path.replace("{id}", path_value)
                typed = [value, [value], {"x": value}, -1, 10**30, None, True][index % 7]
                response = _api_call(
                    client,
                    method,
                    url,
                    key,
                    query=dict.fromkeys(query_names, value),
                    body={name: typed if index % 3 == 0 else value for name in properties},
                    headers=dict.fromkeys(header_names, value.replace("\r\n", " ")),
                )
                _assert_api_sound(response, f"{method.upper()} {url} with {value[:20]!r}")
            if method in ("post", "put", "patch"):
                for raw in HOSTILE_JSON:
                    url = path.replace("{id}", "1")
                    response = _api_call(client, method, url, key, body=raw)
                    _assert_api_sound(response, f"{method.upper()} {url} body {raw[:20]!r}")
