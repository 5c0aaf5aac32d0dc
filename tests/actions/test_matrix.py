"""Every action, by every entry point that offers it, in each customer state, for each role.

Generated from tests/actions/scenarios.py (which test_registry.py keeps complete): the call is
allowed or refused as docs/staff.md ("Who may do what") says; an allowed call writes exactly one
audit entry and an outbox row when an event is due; a refused call changes nothing and emits
nothing.
"""

import secrets
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from portal.actions import ACTIONS, Principal
from portal.actions.models import OutboxEvent
from portal.audit.models import AuditEntry
from tests.actions.scenarios import MSP, SCENARIOS, cases

pytestmark = pytest.mark.django_db

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _case_id(case) -> str:
    action, entry, state, role = case
    return f"{action}-{entry.name}-{state}-{role}"


CASES = list(cases())


@pytest.fixture
def world(customer_factory, plan_factory, filespace_factory, user_factory, member_factory):
    """One customer with a person in every role, an MSP staff member with and without TOTP,
    one key of each kind, and a way to put the customer in any state."""
    from portal.apikeys.models import ApiKey
    from portal.apikeys.services import KEY_PREFIX, hash_key

    customer = customer_factory(name_prefix="acme")
    people = {role: member_factory(role=role, customer=customer).user for role in
              ("owner", "admin", "member")}  # fmt: skip
    people["staff"] = user_factory("staff@msp.example", is_staff=True, is_superuser=True, mfa=True)
    people["staff_nomfa"] = user_factory("nomfa@msp.example", is_staff=True, is_superuser=True)

    def key(owner, of_customer):
        prefix = secrets.token_hex(4)
        raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(16)}"
        row = ApiKey.objects.create(
            name="matrix", customer=of_customer, prefix=prefix, key_hash=hash_key(raw),
            created_by=owner,
        )  # fmt: skip
        return row, raw

    keys = {"customer_key": key(people["owner"], customer), "msp_key": key(people["staff"], None)}
    factories = SimpleNamespace(plan=plan_factory, filespace=filespace_factory)
    return SimpleNamespace(customer=customer, people=people, keys=keys, factories=factories)


def _put_in_state(world, state: str) -> None:
    from portal.customers.models import Customer
    from portal.staff.models import CustomerTermination

    status = {"active": "active", "terminated": "terminated"}.get(state, "suspended")
    Customer.objects.filter(pk=world.customer.pk).update(status=status)
    world.customer.status = status
    if state == "terminating":
        CustomerTermination.objects.create(
            customer=world.customer, reason="matrix", previous_status="active",
            requested_by=world.people["staff"],
        )  # fmt: skip


def _principal(world, role: str) -> Principal:
    if role == "system":
        return Principal.system()
    if role in world.keys:
        return Principal.for_key(world.keys[role][0])
    return Principal.for_user(world.people[role])


def _body(scenario, obj) -> dict:
    return {
        key: (obj.remote_name if value == "<remote_name>" else value)
        for key, value in scenario.post.items()
    }


def _call(world, scenario, entry, role, obj) -> None:
    if entry.kind == "service":
        function = ACTIONS[scenario.action].function
        target = {"order": "order", "filespace": "filespace", "customer": "customer"}[
            obj._meta.model_name
        ]
        try:
            function(**{target: obj}, by=_principal(world, role), **scenario.service_kwargs)
        except Exception as exc:
            from django.core.exceptions import ValidationError

            if not isinstance(exc, ValidationError):
                raise
        return
    if entry.kind == "api":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[role][1]}")
        url = reverse(entry.name, args=[obj.pk])
        if entry.name == "api:filespace-detail":
            response = client.delete(url)
        else:
            response = client.post(url, _body(scenario, obj), format="json")
        assert response.status_code < 500, response.content
        return
    client = Client()
    client.force_login(world.people[role])
    if entry.kind == "staff":
        _reauthenticated(client)
    if entry.kind == "admin":
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_changelist")
        response = client.post(url, {"action": entry.name, "_selected_action": [obj.pk]})
    else:
        response = client.post(reverse(entry.name, args=[obj.pk]), _body(scenario, obj))
    assert response.status_code < 500


def _reauthenticated(client) -> None:
    """The staff member re-enters their password, as destructive staff actions ask
    (portal.security.staff); the matrix is about the action's rules, not that step."""
    response = client.post("/accounts/reauthenticate/", {"password": "correct-horse-battery-9"})
    assert response.status_code == 302, "re-authentication failed"


def _expected(scenario, entry, state: str, role: str) -> bool:
    if entry.kind in ("staff", "admin") and role not in MSP:
        return False  # the console and the admin let only MSP staff (with TOTP) in
    return scenario.allowed(role, state)


def _success_entries():
    return AuditEntry.objects.exclude(action__endswith="_refused")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_each_entry_point_allows_or_refuses_as_the_rules_say(case, world):
    action, entry, state, role = case
    scenario = SCENARIOS[action]
    obj = scenario.make(world.factories, world.customer)
    _put_in_state(world, state)
    before = scenario.snapshot(obj)
    audits, outbox = _success_entries().count(), OutboxEvent.objects.count()

    _call(world, scenario, entry, role, obj)

    after = scenario.snapshot(obj)
    written = list(_success_entries().order_by("id").values_list("action", flat=True)[audits:])
    events = list(OutboxEvent.objects.order_by("id").values_list("event_type", flat=True)[outbox:])
    if _expected(scenario, entry, state, role):
        assert after != before, f"{role} should be able to {action} in a {state} customer"
        assert written == [scenario.audit]
        assert events == ([scenario.event] if scenario.event else [])
    else:
        assert after == before, f"{role} must not be able to {action} in a {state} customer"
        assert written == [] and events == []
