"""Every action, by every entry point that offers it, in each customer state, for each role.

Generated from tests/actions/scenarios.py (which test_registry.py keeps complete): the call is
allowed or refused as docs/staff.md ("Who may do what") says; an allowed call writes exactly one
audit entry (or, when its last step is another action, exactly that action's entry after its
own: see Scenario.audit) and an outbox row when an event is due; a refused call changes nothing
and emits nothing.
"""

import secrets
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

import portal.urls  # noqa: F401  (imports every entry point, so every action is registered)
from portal.actions import ACTIONS, Principal
from portal.actions.models import OutboxEvent
from portal.audit.models import AuditEntry
from tests.actions.scenarios import MSP, NO_CUSTOMER, SCENARIOS, cases

pytestmark = pytest.mark.django_db

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "correct-horse-battery-9"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _case_id(case) -> str:
    name, entry, state, role = case
    return f"{name}-{entry.name}-{state}-{role}"


CASES = list(cases())


class FakeCli:
    """The lucid CLI runner, faked at the runner: records each change it was asked to make."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def snapshot_list(self, **kwargs) -> list:
        return []

    def __getattr__(self, name: str):
        def run(**kwargs):
            self.calls.append(name)
            return 7 if name == "snapshot_create" else None

        return run


def _person(email: str, **flags):
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=email, email=email, password=PASSWORD, **flags
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _build_people_and_keys():
    """One customer with a person in every role, an MSP staff member with and without TOTP (and
    a second one who requests terminations), and one key of each kind."""
    from allauth.mfa.totp.internal.auth import TOTP

    from portal.apikeys.models import ApiKey
    from portal.apikeys.services import KEY_PREFIX, hash_key
    from portal.customers.models import Customer, Membership

    customer = Customer.objects.create(
        name="Acme", name_prefix="acme", billing_email="billing@acme.example", country="GB"
    )
    people = {}
    for role in ("owner", "admin", "billing", "member"):
        people[role] = _person(f"{role}@acme.example")
        Membership.objects.create(customer=customer, user=people[role], role=role)
    people["staff"] = _person("staff@msp.example", is_staff=True, is_superuser=True)
    people["staff_nomfa"] = _person("nomfa@msp.example", is_staff=True, is_superuser=True)
    people["requester"] = _person("second@msp.example", is_staff=True)
    for name in ("staff", "requester"):
        TOTP.activate(people[name], TOTP_SECRET)

    def key(owner, of_customer):
        prefix = secrets.token_hex(4)
        raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(16)}"
        row = ApiKey.objects.create(
            name="matrix", customer=of_customer, prefix=prefix, key_hash=hash_key(raw),
            created_by=owner,
        )  # fmt: skip
        return row, raw

    keys = {"customer_key": key(people["owner"], customer), "msp_key": key(people["staff"], None)}
    return customer, people, keys


@pytest.fixture(scope="module")
def shared(django_db_setup, django_db_blocker):
    """The people and keys, made once for the whole matrix inside a transaction that is rolled
    back at the end; each case runs in its own savepoint within it (pytest-django's `db`), so
    a case sees them fresh and leaves nothing behind."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
                yield _build_people_and_keys()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def clients():
    """One browser and one API client for every case: building a client's handler loads the
    middleware, and WhiteNoise then scans every static file, which costs more than a case."""
    return SimpleNamespace(browser=Client(), api=APIClient())


@pytest.fixture
def world(shared, clients, db, settings, monkeypatch, plan_factory, filespace_factory, user_factory,
          member_factory):  # fmt: skip
    """What a case acts on; `monkeypatch` lets a scenario fake an outside service (Stripe)."""
    customer, people, keys = shared
    customer.refresh_from_db()  # the last case's action may have changed the object in memory
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    cli = FakeCli()
    for module in ("operations", "connection"):
        monkeypatch.setattr(f"provisioning.managed.{module}.runner_for", lambda filespace: cli)
    factories = SimpleNamespace(
        plan=plan_factory, filespace=filespace_factory, user=user_factory, member=member_factory
    )
    clients.browser.logout()
    clients.api.logout()
    return SimpleNamespace(
        customer=customer, people=people, keys=keys, factories=factories, cli=cli,
        browser=clients.browser, api=clients.api, monkeypatch=monkeypatch,
    )  # fmt: skip


def _put_in_state(world, state: str) -> None:
    from portal.customers.models import Customer, CustomerTermination

    if state == "none":
        return  # the action's rows belong to no customer; it stays active
    status = {"active": "active", "terminated": "terminated"}.get(state, "suspended")
    Customer.objects.filter(pk=world.customer.pk).update(status=status)
    world.customer.status = status
    already_open = CustomerTermination.objects.filter(
        customer=world.customer, state=CustomerTermination.State.AWAITING_APPROVAL
    ).exists()
    if state == "terminating" and not already_open:
        CustomerTermination.objects.create(
            customer=world.customer, reason="matrix", previous_status="active",
            requested_by=world.people["requester"],
        )  # fmt: skip


def _principal(world, role: str) -> Principal:
    if role == "system":
        return Principal.system()
    if role in world.keys:
        return Principal.for_key(world.keys[role][0])
    return Principal.for_user(world.people[role])


# The keyword each action without a `call` takes its object by, when not the model's name.
TARGET = {"customertermination": "termination", "planchange": "plan_change"}


def _call_service(world, scenario, obj, by) -> None:
    try:
        if scenario.call is not None:
            scenario.call(world, obj, by)
        else:
            model = obj._meta.model_name
            function = ACTIONS[scenario.action].function
            function(**{TARGET.get(model, model): obj}, by=by, **scenario.service_kwargs)
    except ValidationError:
        pass  # a refusal (Refused is a ValidationError); the assertions check it was due


def _call(world, scenario, entry, role, obj) -> None:
    if entry.kind == "service":
        _call_service(world, scenario, obj, _principal(world, role))
        return
    body = scenario.body(obj)
    if entry.kind == "api":
        client = world.api
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[role][1]}")
        url = reverse(entry.name, args=scenario.url_args(obj))
        if role == "msp_key" and scenario.states != NO_CUSTOMER:
            body["customer"] = world.customer.pk  # MSP keys say which customer they act for
        if entry.name == "api:filespace-detail":
            response = client.delete(url)
        else:
            response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="matrix")
        assert response.status_code < 500, response.content
        return
    client = world.browser
    client.force_login(world.people[role])
    if entry.kind == "staff":
        _reauthenticated(client)
    if entry.kind == "admin" and entry.name.endswith(":save_model"):
        # The admin's add form, whose save_model calls the action.
        app_label, model_name = entry.name.split(":", 1)[0].split(".")
        response = client.post(reverse(f"admin:{app_label}_{model_name}_add"), body)
    elif entry.kind == "admin":
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_changelist")
        action = entry.name.split(":", 1)[1]
        response = client.post(url, {"action": action, "_selected_action": [obj.pk]})
    else:
        response = client.post(reverse(entry.name, args=scenario.url_args(obj)), body)
    assert response.status_code < 500


def _reauthenticated(client) -> None:
    """The staff member re-enters their password, as destructive staff actions ask
    (portal.security.staff); the matrix is about the action's rules, not that step."""
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, "re-authentication failed"


def _expected(scenario, entry, state: str, role: str) -> bool:
    if entry.kind in ("staff", "admin") and role not in MSP:
        return False  # the console and the admin let only MSP staff (with TOTP) in
    return scenario.allowed(role, state)


def _success_entries():
    return AuditEntry.objects.exclude(action__endswith="_refused")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_each_entry_point_allows_or_refuses_as_the_rules_say(case, world):
    name, entry, state, role = case
    scenario = SCENARIOS[name]
    action = scenario.action
    obj = scenario.make(world)
    _put_in_state(world, state)
    before = scenario.snapshot(obj, world)
    audits, outbox = _success_entries().count(), OutboxEvent.objects.count()

    _call(world, scenario, entry, role, obj)

    after = scenario.snapshot(obj, world)
    written = list(_success_entries().order_by("id").values_list("action", flat=True)[audits:])
    events = list(OutboxEvent.objects.order_by("id").values_list("event_type", flat=True)[outbox:])
    event = scenario.event(state) if callable(scenario.event) else scenario.event
    if _expected(scenario, entry, state, role):
        assert after != before, f"{role} should be able to {action} in a {state} customer"
        assert written == scenario.audits
        assert events == ([event] if event else [])
    else:
        assert after == before, f"{role} must not be able to {action} in a {state} customer"
        assert written == [] and events == []
