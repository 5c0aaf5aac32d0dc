"""Matrix scenarios: for each action, how to make its object, how to see a change, who may do it
in which customer state (the rules of docs/staff.md, "Who may do what"), and how each entry point
that offers it is driven.

`SCENARIOS` is keyed by a scenario name (the action's name, or `<action>:<variant>` when one
action has two faces, such as customer and MSP keys). tests/actions/test_registry.py fails when a
registered action has no scenario and no reason in NOT_IN_MATRIX, and when a URL or admin action
declared in portal/actions/entry_points.py calls an action whose scenario does not drive it.
"""

from __future__ import annotations

from tests.actions.kit import (  # noqa: F401  (test_matrix and test_registry import them here)
    CUSTOMER_USERS,
    KEYS,
    MANAGERS,
    MEMBERS,
    MSP,
    MSP_USERS,
    NO_CUSTOMER,
    ROLES,
    ROOT_PASSWORD,
    STATES,
    USERS,
    EntryPoint,
    Scenario,
)
from tests.actions.kit import admin as _admin
from tests.actions.kit import api as _api
from tests.actions.kit import fn as _fn
from tests.actions.kit import no_args as _no_args
from tests.actions.kit import service as _service
from tests.actions.kit import staff as _staff
from tests.actions.kit import web as _web
from tests.actions.scenarios_billing import BILLING_SCENARIOS

# --- Objects and snapshots -------------------------------------------------------------------


def _awaiting_order(world):
    from portal.orders.models import Order

    plan = world.factories.plan(requires_approval=True)
    return Order.objects.create(
        customer=world.customer, plan=plan, name="media",
        remote_name=f"{world.customer.name_prefix}-media", provider=plan.provider,
        region="us-east", state=Order.State.AWAITING_APPROVAL, idempotency_key="matrix",
    )  # fmt: skip


def _order_state(order, world):
    from portal.orders.models import Order
    from provisioning.models import Filespace

    return Order.objects.get(pk=order.pk).state, Filespace.objects.filter(order=order).count()


def _filespace(state: str, **extra):
    def make(world):
        return world.factories.filespace(customer=world.customer, state=state, **extra)

    return make


def _managed_filespace(world):
    """An active filespace whose root password the portal holds (the CLI itself is faked)."""
    return world.factories.filespace(
        customer=world.customer, state="active", remote_id="fs-1", domain_name="msp",
        root_password=ROOT_PASSWORD,
    )  # fmt: skip


def _filespace_state(filespace, world):
    from provisioning.models import Filespace

    return Filespace.objects.get(pk=filespace.pk).state


def _customer(world):
    return world.customer


def _customer_status(customer, world):
    from portal.customers.models import Customer

    return Customer.objects.get(pk=customer.pk).status


def _nothing(world):
    return None


def _plan(world):
    return world.factories.plan()


def _order_count(plan, world):
    from portal.orders.models import Order

    return Order.objects.filter(customer=world.customer).count()


def _customer_count(obj, world):
    from portal.customers.models import Customer

    return Customer.objects.count()


def _open_invitation(world):
    from datetime import timedelta

    from django.utils import timezone

    from portal.customers.models import Invitation

    return Invitation.objects.create(
        customer=world.customer, email="invited@example.com", role="member",
        token_hash="matrix", invited_by=world.people["owner"],
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip


def _invitation_state(invitation, world):
    from portal.customers.models import Invitation

    return Invitation.objects.filter(customer=world.customer).values_list("pk", "revoked_at")


def _invitations(obj, world):
    return list(_invitation_state(obj, world))


def _target_member(world):
    """A member who is not one of the acting people: the one removed or promoted."""
    user = world.factories.user("target@example.com")
    return world.factories.member(role="member", customer=world.customer, user=user)


def _membership_state(membership, world):
    from portal.customers.models import Membership

    return list(Membership.objects.filter(pk=membership.pk).values_list("role", flat=True))


def _acting_membership(world, by):
    from portal.customers.models import Membership

    return Membership.objects.get(customer=world.customer, user=by.user)


def _customer_key(world):
    return _key_row(world, customer=world.customer, created_by=world.people["owner"])


def _msp_key(world):
    return _key_row(world, customer=None, created_by=world.people["staff"])


def _key_row(world, *, customer, created_by):
    from portal.apikeys.models import ApiKey

    return ApiKey.objects.create(
        name="target", customer=customer, prefix="deadbeef", key_hash="matrix-target",
        created_by=created_by,
    )  # fmt: skip


def _key_revoked(key, world):
    from portal.apikeys.models import ApiKey

    return ApiKey.objects.get(pk=key.pk).revoked_at is not None


def _key_count(obj, world):
    from portal.apikeys.models import ApiKey

    customer = world.customer if obj is not None else None
    return ApiKey.objects.filter(customer=customer).count()


HOOK_URL = "https://127.0.0.1/hook"


def _subscription(customer_of):
    def make(world):
        from portal.webhooks.models import Subscription

        return Subscription.objects.create(
            customer=customer_of(world), url=HOOK_URL, event_types=["order.placed"],
            secret="whsec_matrix", created_by=world.people["staff"],
        )  # fmt: skip

    return make


def _subscription_count(obj, world):
    from portal.webhooks.models import Subscription

    customer = world.customer if obj is not None else None
    return Subscription.objects.filter(customer=customer).count()


def _subscription_exists(subscription, world):
    from portal.webhooks.models import Subscription

    return Subscription.objects.filter(pk=subscription.pk).exists()


def _failed_delivery(world):
    from portal.webhooks.models import Delivery, Event

    subscription = _subscription(lambda world: world.customer)(world)
    event = Event.objects.create(
        event_type="order.placed", customer=world.customer, dedupe_key="matrix"
    )
    return Delivery.objects.create(
        subscription=subscription, event=event, state=Delivery.State.FAILED, attempts=8
    )


def _delivery_state(delivery, world):
    from portal.webhooks.models import Delivery

    return Delivery.objects.values_list("state", "attempts").get(pk=delivery.pk)


def _plan_state(plan, world):
    from portal.plans.models import Plan

    return Plan.objects.values_list("name", "is_active").get(pk=plan.pk)


def _plan_form(plan) -> dict:
    """The staff plan form as a browser posts it, with a new name."""
    from django.forms.models import model_to_dict

    values = {key: value for key, value in model_to_dict(plan).items() if value is not None}
    values["allowed_regions"] = ",".join(plan.allowed_regions)
    values["name"] = "Renamed plan"
    values.pop("is_active", None)
    if plan.is_active:
        values["is_active"] = "on"
    return values


def _renamed_plan(world, plan, by):
    plan.name = "Renamed plan"
    _fn("plan.save")(plan=plan, by=by)


def _orphan(world):
    from provisioning.orphan_models import OrphanFilespace

    return OrphanFilespace.objects.create(
        remote_id="fs-orphan", remote_name="acme-rogue", provider="IBM", reason="untracked"
    )


def _orphan_with_candidate(world):
    orphan = _orphan(world)
    orphan.candidate = world.factories.filespace(
        customer=world.customer, state="error", name="rogue"
    )
    return orphan


def _orphan_state(orphan, world):
    from provisioning.models import Filespace
    from provisioning.orphan_models import OrphanFilespace

    candidate = getattr(orphan, "candidate", None)
    row = Filespace.objects.get(pk=candidate.pk).state if candidate else None
    return OrphanFilespace.objects.get(pk=orphan.pk).state, row


def _termination_state(customer, world):
    from portal.customers.models import Customer, CustomerTermination

    states = CustomerTermination.objects.filter(customer=customer).values_list("state", flat=True)
    return Customer.objects.get(pk=customer.pk).status, sorted(states)


def _open_termination(world):
    """A termination another staff member requested (the approver must be someone else)."""
    from portal.customers.models import CustomerTermination

    return CustomerTermination.objects.create(
        customer=world.customer, reason="matrix", previous_status="active",
        requested_by=world.people["requester"],
    )  # fmt: skip


def _termination(termination, world):
    return _termination_state(world.customer, world)


def _billing_flag(world):
    from datetime import date

    from billing.models import BillingFlag

    return BillingFlag.objects.create(
        kind=BillingFlag.Kind.DRIFT, subject=f"customer:{world.customer.pk}",
        customer=world.customer, period_start=date(2026, 10, 1),
    )  # fmt: skip


def _flag_resolved(flag, world):
    from billing.models import BillingFlag

    return BillingFlag.objects.get(pk=flag.pk).resolved_at is not None


def _cli_calls(obj, world):
    return list(world.cli.calls)


def _filespace_user(member_role: str | None):
    def make(world):
        from provisioning.managed_models import FilespaceUser

        filespace = _managed_filespace(world)
        member = world.people[member_role] if member_role else None
        return FilespaceUser.objects.create(
            filespace=filespace, name="editor", member=member, created_by=world.people["owner"]
        )

    return make


def _filespace_users(obj, world):
    from provisioning.managed_models import FilespaceUser

    return list(FilespaceUser.objects.values_list("name", "password_set_at")), _cli_calls(
        obj, world
    )


def _schedule(world):
    from provisioning.managed_models import SnapshotSchedule

    filespace = _managed_filespace(world)
    return SnapshotSchedule.objects.create(
        filespace=filespace, name="nightly", interval="1d", retention=7,
        created_by=world.people["owner"],
    )  # fmt: skip


def _schedules(obj, world):
    from provisioning.managed_models import SnapshotSchedule

    return list(SnapshotSchedule.objects.values_list("name", flat=True)), _cli_calls(obj, world)


def _provisioned_filespace(world):
    return world.factories.filespace(
        customer=world.customer, state="provisioned", remote_id="fs-1", domain_name="msp"
    )


def _customer_storage_filespace(world):
    from portal.plans.models import StorageOwner

    plan = world.factories.plan(storage_owner=StorageOwner.CUSTOMER)
    return world.factories.filespace(
        customer=world.customer, plan=plan, state="provisioned", remote_id="fs-1",
        domain_name="msp",
    )  # fmt: skip


def _init_state(filespace, world):
    from provisioning.managed_models import FilespaceInit

    return list(FilespaceInit.objects.filter(filespace=filespace).values_list("state", flat=True))


def _billing_profile(customer, world):
    from billing.tax.models import BillingProfile

    profile = BillingProfile.objects.filter(customer=customer)
    return list(profile.values_list("legal_name", "tax_number"))


# --- Scenarios -------------------------------------------------------------------------------

ACTIVE_MANAGERS = lambda role, state: role in MANAGERS and state == "active"  # noqa: E731
MSP_ONLY = lambda role, state: role in MSP  # noqa: E731
MANAGERS_MSP_SYSTEM = lambda role, state: role in MANAGERS | MSP | {"system"}  # noqa: E731
# Owners, admins and MSP staff change a filespace's users, snapshots and schedules while the
# customer is active (docs/managed-operations.md); members only look.
MANAGED = lambda role, state: role in {"owner", "admin", "staff"} and state == "active"  # noqa: E731

SCENARIOS: dict[str, Scenario] = {
    # --- Orders -------------------------------------------------------------------------------
    "order.place": Scenario(
        action="order.place",
        audit="order.placed",
        event="order.placed",
        make=_plan,
        snapshot=_order_count,
        allowed=lambda role, state: role in MANAGERS | MSP | {"system"} and state == "active",
        call=lambda world, plan, by: _fn("order.place")(
            by=by,
            customer=world.customer,
            plan=plan,
            name="media",
            provider=plan.provider,
            region="us-east",
            idempotency_key="matrix",
        ),
        body=lambda plan: {
            "plan": plan.pk,
            "name": "media",
            "provider": plan.provider,
            "region": "us-east",
        },
        url_args=_no_args,
        entry_points=(_service(), _api("api:order-list")),
    ),
    "order.approve": Scenario(
        action="order.approve",
        audit="order.approved",
        event="order.approved",
        make=_awaiting_order,
        snapshot=_order_state,
        allowed=lambda role, state: role in MSP and state == "active",
        entry_points=(
            _service(),
            _staff("staff:order_approve"),
            _api("api:order-approve"),
            _admin("orders.order:approve"),
        ),
    ),
    "order.reject": Scenario(
        action="order.reject",
        audit="order.rejected",
        event=None,
        make=_awaiting_order,
        snapshot=_order_state,
        allowed=lambda role, state: role in MSP | {"system"},
        service_kwargs={"reason": "Region not offered"},
        body=lambda obj: {"reason": "Region not offered"},
        entry_points=(_service(), _staff("staff:order_reject"), _api("api:order-reject")),
    ),
    "order.cancel": Scenario(
        action="order.cancel",
        audit="order.cancelled",
        event=None,
        make=_awaiting_order,
        snapshot=_order_state,
        allowed=lambda role, state: role in MANAGERS | MSP | {"system"},
        entry_points=(_service(), _web("orders:cancel")),
    ),
    # --- Filespaces ---------------------------------------------------------------------------
    "filespace.delete": Scenario(
        action="filespace.delete",
        audit="filespace.delete_requested",
        event=None,
        make=_filespace("active", remote_id="fs-1"),
        snapshot=_filespace_state,
        allowed=lambda role, state: (
            role in MSP | {"system"} or (role in MANAGERS and state == "active")
        ),
        body=lambda filespace: {"confirm": filespace.remote_name},
        entry_points=(
            _service(),
            _web("filespaces:delete"),
            _staff("staff:filespace_delete"),
            _api("api:filespace-detail"),
        ),
    ),
    "filespace.retry": Scenario(
        action="filespace.retry",
        audit="filespace.retry",
        event=None,
        make=_filespace("error"),
        snapshot=_filespace_state,
        allowed=lambda role, state: role in MSP and state == "active",
        entry_points=(
            _service(),
            _staff("staff:filespace_retry"),
            _admin("provisioning.filespace:retry"),
        ),
    ),
    "filespace.force_fail": Scenario(
        action="filespace.force_fail",
        audit="filespace.force_failed",
        event="filespace.error",
        make=_filespace("provisioning", remote_id="fs-1"),
        snapshot=_filespace_state,
        allowed=MSP_ONLY,
        service_kwargs={"reason": "Stuck at LucidLink"},
        body=lambda obj: {"reason": "Stuck at LucidLink"},
        entry_points=(_service(), _staff("staff:filespace_fail")),
    ),
    # --- Managed operations (the lucid CLI is faked at the runner: world.cli) -------------------
    "filespace.initialize": Scenario(
        action="filespace.initialize",
        audit="filespace.init_requested",
        event=None,
        make=_provisioned_filespace,
        snapshot=_init_state,
        allowed=MANAGED,
        call=lambda world, filespace, by: _fn("filespace.initialize")(
            filespace=filespace, actor=by
        ),
        entry_points=(_service(USERS), _web("filespaces:initialize")),
    ),
    "filespace.self_init_request": Scenario(
        action="filespace.self_init_request",
        audit="filespace.self_init_requested",
        event=None,
        make=_customer_storage_filespace,
        snapshot=_init_state,
        allowed=lambda role, state: role in {"owner", "admin"} and state == "active",
        call=lambda world, filespace, by: _fn("filespace.self_init_request")(
            filespace=filespace, actor=by.user
        ),
        entry_points=(_service(USERS), _web("filespaces:self_initialize")),
    ),
    "filespace.user_create": Scenario(
        action="filespace.user_create",
        audit="filespace.user_created",
        event=None,
        make=_managed_filespace,
        snapshot=_filespace_users,
        allowed=MANAGED,
        call=lambda world, filespace, by: _fn("filespace.user_create")(
            filespace=filespace, actor=by, name="editor"
        ),
        body=lambda filespace: {"name": "editor"},
        entry_points=(_service(USERS), _web("filespaces:user_create")),
    ),
    "filespace.own_user_create": Scenario(
        action="filespace.own_user_create",
        audit="filespace.user_created",
        event=None,
        make=_managed_filespace,
        snapshot=_filespace_users,
        # Every member links as their own filespace user; MSP staff are no member.
        allowed=lambda role, state: role in MEMBERS and state == "active",
        call=lambda world, filespace, by: _fn("filespace.own_user_create")(
            filespace=filespace, actor=by.user, name="mine"
        ),
        body=lambda filespace: {"name": "mine"},
        entry_points=(_service(USERS), _web("filespaces:own_user_create")),
    ),
    "filespace.user_reset_password": Scenario(
        action="filespace.user_reset_password",
        audit="filespace.user_password_reset",
        event=None,
        # The user belongs to the member: they reset their own; owners and admins anyone's.
        make=_filespace_user("member"),
        snapshot=_filespace_users,
        allowed=lambda role, state: role in MEMBERS and state == "active",
        call=lambda world, filespace_user, by: _fn("filespace.user_reset_password")(
            filespace_user=filespace_user, actor=by.user
        ),
        entry_points=(_service(USERS), _web("filespaces:user_reset_password")),
    ),
    "filespace.user_delete": Scenario(
        action="filespace.user_delete",
        audit="filespace.user_deleted",
        event=None,
        make=_filespace_user(None),
        snapshot=_filespace_users,
        allowed=MANAGED,
        call=lambda world, filespace_user, by: _fn("filespace.user_delete")(
            filespace_user=filespace_user, actor=by
        ),
        entry_points=(_service(USERS), _web("filespaces:user_delete")),
    ),
    "filespace.snapshot_create": Scenario(
        action="filespace.snapshot_create",
        audit="filespace.snapshot_created",
        event=None,
        make=_managed_filespace,
        snapshot=_cli_calls,
        allowed=MANAGED,
        call=lambda world, filespace, by: _fn("filespace.snapshot_create")(
            filespace=filespace, actor=by, name="before-upgrade"
        ),
        body=lambda filespace: {"name": "before-upgrade"},
        entry_points=(_service(USERS), _web("filespaces:snapshot_create")),
    ),
    "filespace.snapshot_delete": Scenario(
        action="filespace.snapshot_delete",
        audit="filespace.snapshot_deleted",
        event=None,
        make=_managed_filespace,
        snapshot=_cli_calls,
        allowed=MANAGED,
        call=lambda world, filespace, by: _fn("filespace.snapshot_delete")(
            filespace=filespace, actor=by, snapshot_id=7
        ),
        body=lambda filespace: {"snapshot_id": 7},
        entry_points=(_service(USERS), _web("filespaces:snapshot_delete")),
    ),
    "filespace.schedule_create": Scenario(
        action="filespace.schedule_create",
        audit="filespace.snapshot_schedule_created",
        event=None,
        make=_managed_filespace,
        snapshot=_schedules,
        allowed=MANAGED,
        call=lambda world, filespace, by: _fn("filespace.schedule_create")(
            filespace=filespace, actor=by, name="nightly", interval="1d", retention=7
        ),
        body=lambda filespace: {"name": "nightly", "interval": "1d", "retention": 7},
        entry_points=(_service(USERS), _web("filespaces:schedule_create")),
    ),
    "filespace.schedule_delete": Scenario(
        action="filespace.schedule_delete",
        audit="filespace.snapshot_schedule_deleted",
        event=None,
        make=_schedule,
        snapshot=_schedules,
        allowed=MANAGED,
        call=lambda world, schedule, by: _fn("filespace.schedule_delete")(
            schedule=schedule, actor=by
        ),
        entry_points=(_service(USERS), _web("filespaces:schedule_delete")),
    ),
    # --- Customers ----------------------------------------------------------------------------
    "customer.create_for_msp": Scenario(
        action="customer.create_for_msp",
        audit="customer.created",
        event=None,
        make=_nothing,
        snapshot=_customer_count,
        allowed=MSP_ONLY,
        call=lambda world, obj, by: _fn("customer.create_for_msp")(
            name="Beta Films", billing_email="billing@beta.example", country="GB", by=by
        ),
        body=lambda obj: {
            "name": "Beta Films",
            "billing_email": "billing@beta.example",
            "country": "GB",
        },
        url_args=_no_args,
        entry_points=(_service(), _api("api:customer-list")),
        states=NO_CUSTOMER,
    ),
    "customer.suspend": Scenario(
        action="customer.suspend",
        audit="customer.suspended",
        event="customer.suspended",
        make=_customer,
        snapshot=_customer_status,
        allowed=lambda role, state: (role in MSP or role == "system") and state == "active",
        service_kwargs={"reason": "Unpaid invoices"},
        body=lambda obj: {"reason": "Unpaid invoices"},
        entry_points=(
            _service(),
            _staff("staff:customer_suspend"),
            _api("api:customer-suspend"),
            _admin("customers.customer:suspend"),
        ),
    ),
    "customer.resume": Scenario(
        action="customer.resume",
        audit="customer.resumed",
        event=None,
        make=_customer,
        snapshot=_customer_status,
        allowed=lambda role, state: (role in MSP or role == "system") and state == "suspended",
        entry_points=(
            _service(),
            _staff("staff:customer_resume"),
            _api("api:customer-resume"),
            _admin("customers.customer:resume"),
        ),
    ),
    "customer.termination_request": Scenario(
        action="customer.termination_request",
        audit="customer.termination_requested",
        event=lambda state: "customer.suspended" if state == "active" else None,
        make=_customer,
        snapshot=_termination_state,
        # Not while one is open (terminating) or after the end (terminated).
        allowed=lambda role, state: role in MSP and state in ("active", "suspended"),
        service_kwargs={"reason": "Contract ended"},
        body=lambda obj: {"reason": "Contract ended"},
        entry_points=(_service(), _staff("staff:customer_terminate")),
    ),
    "customer.termination_approve": Scenario(
        action="customer.termination_approve",
        audit="customer.termination_approved",
        event=None,
        make=_open_termination,
        snapshot=_termination,
        # A second person: MSP keys cannot approve, and the requester is someone else here.
        allowed=lambda role, state: role == "staff",
        entry_points=(_service(), _staff("staff:termination_approve")),
        states=("terminating",),
    ),
    "customer.termination_cancel": Scenario(
        action="customer.termination_cancel",
        audit="customer.termination_cancelled",
        event=None,
        make=_open_termination,
        snapshot=_termination,
        allowed=MSP_ONLY,
        body=lambda obj: {"reason": "Paid after all"},
        entry_points=(_service(), _staff("staff:termination_cancel")),
        states=("terminating",),
    ),
    # --- Team ---------------------------------------------------------------------------------
    "invitation.create": Scenario(
        action="invitation.create",
        audit="invitation.sent",
        event=None,
        make=_customer,
        snapshot=_invitations,
        allowed=lambda role, state: role in {"owner", "admin", "staff"} and state == "active",
        call=lambda world, customer, by: _fn("invitation.create")(
            customer=customer, email="new@example.com", role="member", invited_by=by.user
        ),
        body=lambda customer: {"email": "new@example.com", "role": "member"},
        url_args=_no_args,
        entry_points=(_service(USERS), _web("customers:invite")),
    ),
    "invitation.revoke": Scenario(
        action="invitation.revoke",
        audit="invitation.revoked",
        event=None,
        make=_open_invitation,
        snapshot=_invitations,
        allowed=MANAGERS_MSP_SYSTEM,
        entry_points=(_service(), _web("customers:invitation_revoke")),
    ),
    "membership.remove": Scenario(
        action="membership.remove",
        audit="member.removed",
        event=None,
        make=_target_member,
        snapshot=_membership_state,
        allowed=ACTIVE_MANAGERS,
        call=lambda world, membership, by: _fn("membership.remove")(
            membership=membership, acting=_acting_membership(world, by)
        ),
        entry_points=(_service(CUSTOMER_USERS), _web("customers:member_remove")),
    ),
    "membership.change_role": Scenario(
        action="membership.change_role",
        audit="member.role_changed",
        event=None,
        make=_target_member,
        snapshot=_membership_state,
        allowed=ACTIVE_MANAGERS,
        call=lambda world, membership, by: _fn("membership.change_role")(
            membership=membership, role="admin", acting=_acting_membership(world, by)
        ),
        body=lambda membership: {"role": "admin"},
        entry_points=(_service(CUSTOMER_USERS), _web("customers:member_role")),
    ),
    # --- API keys and webhooks ----------------------------------------------------------------
    "apikey.create": Scenario(
        action="apikey.create",
        audit="apikey.created",
        event=None,
        make=_customer,
        snapshot=_key_count,
        allowed=ACTIVE_MANAGERS,
        call=lambda world, customer, by: _fn("apikey.create")(
            name="ci", created_by=by, customer=customer
        ),
        body=lambda customer: {"name": "ci"},
        url_args=_no_args,
        entry_points=(_service(), _web("apikeys:customer_keys")),
    ),
    "apikey.create:msp": Scenario(
        action="apikey.create",
        audit="apikey.created",
        event=None,
        make=_nothing,
        snapshot=_key_count,
        allowed=MSP_ONLY,
        call=lambda world, obj, by: _fn("apikey.create")(name="ops", created_by=by),
        body=lambda obj: {"name": "ops"},
        url_args=_no_args,
        entry_points=(_service(), _staff("apikeys:msp_keys")),
        states=NO_CUSTOMER,
    ),
    "apikey.revoke": Scenario(
        action="apikey.revoke",
        audit="apikey.revoked",
        event=None,
        make=_customer_key,
        snapshot=_key_revoked,
        allowed=MANAGERS_MSP_SYSTEM,
        call=lambda world, key, by: _fn("apikey.revoke")(apikey=key, acting_user=by),
        entry_points=(_service(), _web("apikeys:customer_key_revoke")),
    ),
    "apikey.revoke:msp": Scenario(
        action="apikey.revoke",
        audit="apikey.revoked",
        event=None,
        make=_msp_key,
        snapshot=_key_revoked,
        allowed=MSP_ONLY,
        call=lambda world, key, by: _fn("apikey.revoke")(apikey=key, acting_user=by),
        entry_points=(_service(), _staff("apikeys:msp_key_revoke")),
        states=NO_CUSTOMER,
    ),
    "webhook.subscribe": Scenario(
        action="webhook.subscribe",
        audit="webhook.subscribed",
        event=None,
        make=_customer,
        snapshot=_subscription_count,
        allowed=lambda role, state: role in MANAGERS | MSP | {"system"} and state == "active",
        call=lambda world, customer, by: _fn("webhook.subscribe")(
            url=HOOK_URL, event_types=["order.placed"], created_by=by, customer=customer
        ),
        body=lambda customer: {"url": HOOK_URL, "event_types": ["order.placed"]},
        url_args=_no_args,
        entry_points=(_service(), _web("apikeys:customer_webhooks")),
    ),
    "webhook.subscribe:msp": Scenario(
        action="webhook.subscribe",
        audit="webhook.subscribed",
        event=None,
        make=_nothing,
        snapshot=_subscription_count,
        allowed=MSP_ONLY,
        call=lambda world, obj, by: _fn("webhook.subscribe")(
            url=HOOK_URL, event_types=["order.placed"], created_by=by
        ),
        body=lambda obj: {"url": HOOK_URL, "event_types": ["order.placed"]},
        url_args=_no_args,
        entry_points=(_service(), _staff("apikeys:msp_webhooks")),
        states=NO_CUSTOMER,
    ),
    "webhook.unsubscribe": Scenario(
        action="webhook.unsubscribe",
        audit="webhook.unsubscribed",
        event=None,
        make=_subscription(lambda world: world.customer),
        snapshot=_subscription_exists,
        allowed=MANAGERS_MSP_SYSTEM,
        call=lambda world, subscription, by: _fn("webhook.unsubscribe")(
            subscription=subscription, acting_user=by
        ),
        entry_points=(_service(), _web("apikeys:customer_webhook_delete")),
    ),
    "webhook.unsubscribe:msp": Scenario(
        action="webhook.unsubscribe",
        audit="webhook.unsubscribed",
        event=None,
        make=_subscription(lambda world: None),
        snapshot=_subscription_exists,
        allowed=MSP_ONLY,
        call=lambda world, subscription, by: _fn("webhook.unsubscribe")(
            subscription=subscription, acting_user=by
        ),
        entry_points=(_service(), _staff("apikeys:msp_webhook_delete")),
        states=NO_CUSTOMER,
    ),
    "webhook.replay": Scenario(
        action="webhook.replay",
        audit="webhook.replayed",
        event=None,
        make=_failed_delivery,
        snapshot=_delivery_state,
        allowed=MANAGERS_MSP_SYSTEM,
        call=lambda world, delivery, by: _fn("webhook.replay")(delivery=delivery, acting_user=by),
        entry_points=(
            _service(),
            _staff("apikeys:msp_delivery_replay"),
            _admin("webhooks.delivery:replay"),
        ),
    ),
    # --- Plans and orphans (no customer) ------------------------------------------------------
    "plan.save": Scenario(
        action="plan.save",
        audit="plan.updated",
        event=None,
        make=_plan,
        snapshot=_plan_state,
        allowed=MSP_ONLY,
        call=_renamed_plan,
        body=_plan_form,
        entry_points=(_service(), _staff("staff:plan_edit")),
        states=NO_CUSTOMER,
    ),
    "plan.set_active": Scenario(
        action="plan.set_active",
        audit="plan.deactivated",
        event=None,
        make=_plan,
        snapshot=_plan_state,
        allowed=MSP_ONLY,
        service_kwargs={"active": False},
        body=lambda plan: {"active": "false"},
        entry_points=(
            _service(),
            _staff("staff:plan_set_active"),
            _admin("plans.plan:deactivate"),
        ),
        states=NO_CUSTOMER,
    ),
    "orphan.adopt": Scenario(
        action="orphan.adopt",
        audit="orphan.adopt",
        event=None,
        make=_orphan_with_candidate,
        snapshot=_orphan_state,
        allowed=MSP_ONLY,
        call=lambda world, orphan, by: _fn("orphan.adopt")(
            orphan=orphan, filespace=orphan.candidate, acting_user=by
        ),
        body=lambda orphan: {"filespace": orphan.candidate.pk},
        entry_points=(_service(), _staff("staff:orphan_adopt")),
        states=NO_CUSTOMER,
    ),
    "orphan.delete": Scenario(
        action="orphan.delete",
        audit="orphan.delete_requested",
        event=None,
        make=_orphan,
        snapshot=_orphan_state,
        allowed=MSP_ONLY,
        call=lambda world, orphan, by: _fn("orphan.delete")(
            orphan=orphan, acting_user=by, confirm=orphan.remote_name
        ),
        body=lambda orphan: {"confirm": orphan.remote_name},
        entry_points=(_service(), _staff("staff:orphan_delete")),
        states=NO_CUSTOMER,
    ),
    # --- Billing ------------------------------------------------------------------------------
    "billing_flag.resolve": Scenario(
        action="billing_flag.resolve",
        audit="billing_flag.resolved",
        event=None,
        make=_billing_flag,
        snapshot=_flag_resolved,
        allowed=MSP_ONLY,
        call=lambda world, flag, by: _fn("billing_flag.resolve")(flag=flag, by=by),
        entry_points=(_service(), _admin("billing.billingflag:resolve")),
    ),
    "billing_profile.update": Scenario(
        action="billing_profile.update",
        audit="billing_profile.updated",
        event=None,
        make=_customer,
        snapshot=_billing_profile,
        # Suspended customers may still fix their billing details (to pay); terminated ones not.
        allowed=lambda role, state: role in MANAGERS | MSP | {"system"} and state != "terminated",
        service_kwargs={
            "legal_name": "Acme Media GmbH",
            "address_line1": "Torstrasse 1",
            "postal_code": "10119",
            "city": "Berlin",
            "country": "DE",
            "tax_number": "DE136695976",
        },
        # The page (/billing/details/) has no object in its URL: tests/billing/test_tax_pages.py.
        entry_points=(_service(),),
    ),
}

SCENARIOS |= BILLING_SCENARIOS

# Registered actions the matrix does not drive, each with its reason and where its rules are
# tested instead.
NOT_IN_MATRIX: dict[str, str] = {
    "customer.create": (
        "sign-up: the actor is a person with no customer yet, so there is no role or state to "
        "vary; tests/accounts"
    ),
    "invitation.accept": (
        "the actor is the invitee, who holds no role until it succeeds; the customer-state "
        "rule is in tests/staff/test_suspension.py"
    ),
    "customer.termination_carry_out": (
        "the system's beat task on an approved, due termination: no role or entry point to "
        "vary; tests/staff/test_termination*.py"
    ),
    "filespace.init_run": "the worker's CLI run of a requested init (system only): tests/managed",
    "invoice.run": (
        "the monthly system task over every customer (no customer, role or entry point to "
        "vary: a task and a command, both the system): tests/billing/test_invoices.py"
    ),
}

# Entry points (URL names and admin actions of portal/actions/entry_points.py) that call an
# action with a scenario but are not driven by it, each with its reason.
ENTRY_POINTS_NOT_IN_MATRIX: dict[str, str] = {
    "orders:place": (
        "places the draft the order form kept in the session (form steps first): "
        "tests/orders/test_place.py; the rules are order.place's, driven by service and API"
    ),
    "plans.plan:save_model": (
        "the admin's change form posts every plan field; the rule is plan.save's, driven by "
        "service and console: tests/staff/test_actions.py"
    ),
    "plans.plan:activate": "the other half of plans.plan:deactivate (same action, same rule)",
    "staff:plan_new": "the same action and form as staff:plan_edit, for a new plan",
    "payments:stripe_webhook": (
        "Stripe's signed event: no person or key acts (it records Stripe's answer as the "
        "system, driven by the service scenario); signature, replay and dedupe: "
        "tests/billing/payments/test_stripe_webhooks.py"
    ),
    "billing:details": (
        "the billing details page edits the signed-in customer's own profile (no object in its "
        "URL); roles, states and hostile input: tests/billing/test_tax_pages.py"
    ),
}


def cases():
    """(scenario, entry point, state, role) for every entry point of every scenario."""
    for name, scenario in SCENARIOS.items():
        for entry in scenario.entry_points:
            for state in scenario.states:
                for role in entry.roles:
                    yield name, entry, state, role
