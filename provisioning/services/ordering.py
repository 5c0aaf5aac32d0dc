"""Placing and approving filespace orders: the two order actions that write a filespace row.

An order placed without approval, or approved by the MSP, gets its filespace row in the same
transaction, so no order is ever provisioning without the row its create task works from. That
is why these actions sit on the floor that owns filespaces and reach down for the order's
decision (portal.orders.services) and, when placing, for billing's rule that a customer must have
a saved card or invoice terms (docs/architecture.md, "Floors").
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Q, Subquery

from billing.payments import services as payments
from portal.actions import Principal, action, guards, record
from portal.actions.outbox import outbox_add, outbox_add_many
from portal.customers.models import MANAGER_ROLES, Customer
from portal.orders import emails
from portal.orders.models import Order
from portal.orders.services import order_decide, order_decision_record
from portal.plans.models import Plan
from provisioning import rules
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services.common import event_record
from provisioning.services.create import filespace_request

IDEMPOTENCY_KEY_MAX = 64


def _live_filespaces(remote_name: str):
    return Filespace.objects.filter(remote_name=remote_name).exclude(
        Q(state=Filespace.State.DELETED) | Q(state=Filespace.State.ERROR, remote_id__isnull=True)
    )


def _live_orders(remote_name: str):
    return Order.objects.filter(remote_name=remote_name, state__in=Order.LIVE_STATES)


def name_taken(remote_name: str) -> bool:
    """True when a live order or a live filespace already holds the remote name (any customer)."""
    return _live_filespaces(remote_name).exists() or _live_orders(remote_name).exists()


def _plan_with_placement_facts(
    *, plan_id: int, customer: Customer, idempotency_key: str, name: str
):
    """The plan, fresh, annotated with what placing needs to know, in one statement.

    `existing_order_id`: the customer's order with this idempotency key, if any; `name_in_use`:
    whether a live order or filespace holds the remote name (False when the name is invalid,
    order_validate then refuses it anyway). Read after the customer lock, so an order committed
    by a concurrent submit that held the lock is seen.
    """
    try:
        remote_name = rules.validate_filespace_name(prefix=customer.name_prefix, name=name)
    except ValidationError:
        remote_name = ""
    same_key = Order.objects.filter(customer=customer, idempotency_key=idempotency_key)
    return (
        Plan.objects.filter(pk=plan_id)
        .annotate(
            existing_order_id=Subquery(same_key.values("pk")[:1]),
            name_in_use=Exists(_live_filespaces(remote_name)) | Exists(_live_orders(remote_name)),
        )
        .get()
    )


def order_validate(
    *,
    customer: Customer,
    plan: Plan,
    name: str,
    provider: str,
    region: str,
    bucket: str | None = None,
    endpoint: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    name_in_use: bool | None = None,
) -> str:
    """Check an order against the contract and the plan; return the remote name.

    Raises one ValidationError keyed by field with every problem found, so a form can show
    them all at once. `name_in_use` is name_taken's answer when the caller has already read it
    (order_place reads it with the plan); None asks the database here.
    Reference: docs/lucidlink-contract.md, "Validation".
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, error: ValidationError | str) -> None:
        messages = error.messages if isinstance(error, ValidationError) else [error]
        errors.setdefault(field, []).extend(messages)

    if not customer.is_active:
        add(
            NON_FIELD_ERRORS,
            "Your organisation's account is not active, so it cannot order filespaces. "
            "Contact support.",
        )
    if not plan.is_active:
        add("plan", "This plan is no longer offered. Choose another plan.")

    remote_name = ""
    try:
        remote_name = rules.validate_filespace_name(prefix=customer.name_prefix, name=name)
    except ValidationError as exc:
        add("name", exc)
    if name_in_use is None and remote_name:
        name_in_use = name_taken(remote_name)
    if remote_name and name_in_use:
        add("name", f"The name {name} is already in use. Choose another name.")

    try:
        rules.validate_provider(provider)
    except ValidationError as exc:
        add("provider", exc)
    else:
        if provider != plan.provider:
            add(
                "provider",
                f"The {plan.name} plan stores data with {plan.provider}; choose {plan.provider}.",
            )
        try:
            rules.validate_region(provider=provider, region=region, allowed=plan.allowed_regions)
        except ValidationError as exc:
            add("region", exc)
        try:
            rules.validate_endpoint(provider=provider, endpoint=endpoint)
        except ValidationError as exc:
            add("endpoint", exc)

    if plan.is_own_storage:
        if not bucket:
            add("bucket", "Enter the name of your bucket.")
        else:
            try:
                rules.validate_bucket(bucket)
            except ValidationError as exc:
                add("bucket", exc)
        if not access_key:
            add("access_key", "Enter the access key LucidLink will use for your bucket.")
        if not secret_key:
            add("secret_key", "Enter the secret key that goes with the access key.")
    else:
        for field, value in (
            ("bucket", bucket),
            ("endpoint", endpoint),
            ("access_key", access_key),
            ("secret_key", secret_key),
        ):
            if value:
                add(
                    field,
                    f"The {plan.name} plan uses storage LucidLink provides; leave this empty.",
                )
    if errors:
        raise ValidationError(errors)
    return remote_name


@action("order.place")
def order_place(
    *,
    by: Principal | None = None,
    customer: Customer,
    plan: Plan,
    name: str,
    provider: str,
    region: str,
    bucket: str | None = None,
    endpoint: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    placed_by=None,
    idempotency_key: str,
) -> Order:
    """Place an order; the same idempotency key returns the first order instead of a second.

    Without approval the filespace row is created in `requested` and its create task is sent
    after commit; with approval nothing reaches LucidLink until `order_approve`. Any member of
    the customer, a key of it, or MSP staff ordering for it; only while the customer is active.
    """
    by = Principal.of(by if by is not None else placed_by)
    guards.require_role(by, customer, MANAGER_ROLES, what="order filespaces")
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError(
            {NON_FIELD_ERRORS: "The form expired; reload the page and submit it again."}
        )
    name = name or ""
    provider = (provider or "").strip()
    region = (region or "").strip()
    bucket = (bucket or "").strip() or None
    endpoint = (endpoint or "").strip() or None
    try:
        with transaction.atomic():
            # Re-read the customer and plan under lock so a suspension or a plan withdrawal
            # that commits meanwhile is seen.
            customer = Customer.objects.select_for_update().get(pk=customer.pk)
            plan = _plan_with_placement_facts(
                plan_id=plan.pk, customer=customer, idempotency_key=idempotency_key, name=name
            )
            # A submit with the same key, maybe a concurrent one that committed while this one
            # waited for the lock: answer with its order rather than refuse the name it holds.
            if plan.existing_order_id is not None:
                return Order.objects.get(pk=plan.existing_order_id)
            payments.payment_method_require(customer=customer)
            remote_name = order_validate(
                customer=customer,
                plan=plan,
                name=name,
                provider=provider,
                region=region,
                bucket=bucket,
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                name_in_use=plan.name_in_use,
            )
            needs_approval = plan.requires_approval
            order = Order.objects.create(
                customer=customer,
                plan=plan,
                name=name,
                remote_name=remote_name,
                provider=provider,
                region=region,
                bucket=bucket or "",
                endpoint=endpoint or "",
                access_key=access_key or "",
                secret_key=secret_key or "",
                state=(
                    Order.State.AWAITING_APPROVAL if needs_approval else Order.State.PROVISIONING
                ),
                idempotency_key=idempotency_key,
                placed_by=by.audit_user,
            )
            if not needs_approval:
                # No savepoint: a name taken meanwhile refuses the whole placement anyway.
                filespace_request(order=order, actor=by.audit_user, savepoint=False)
            record(
                by=by,
                action="order.placed",
                customer=customer,
                target=order,
                after={
                    "remote_name": remote_name,
                    "plan": plan.name,
                    "provider": provider,
                    "region": region,
                    "state": order.state,
                },
            )
            # The order is new, so its key cannot be recorded yet: one INSERT, no savepoint.
            outbox_add_many(
                [
                    {
                        "event_type": "order.placed",
                        "customer_id": customer.pk,
                        "subject_type": "order",
                        "subject_id": order.pk,
                        "dedupe_key": f"order.placed:{order.pk}",
                    }
                ]
            )
    except IntegrityError:
        # A concurrent submit with the same key won the race: return its order.
        existing = Order.objects.filter(customer=customer, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        raise ValidationError(
            {"name": f"The name {name} was just taken by another order. Choose another name."}
        ) from None
    return order


@action("order.approve", audit_refusals=True)
def order_approve(*, order: Order, by: Principal, reason: str = "") -> Order:
    """MSP: approve an order awaiting approval and start provisioning it (customer active only)."""
    by = Principal.of(by)
    reason = (reason or "").strip()
    guards.require_msp(by, what="approve orders")
    with transaction.atomic():
        guards.require_active_customer(by, order.customer, what="approve its orders")
        decided = order_decide(order=order, by=by, state=Order.State.PROVISIONING, reason=reason)
        filespace = filespace_request(order=decided, actor=by.audit_user)
        event_record(
            filespace=filespace,
            kind=ProvisioningEvent.Kind.APPROVED,
            message="Order approved.",
            actor=by.audit_user,
        )
        order_decision_record(by=by, decided=decided, action_name="order.approved", note=reason)
        outbox_add(
            event_type="order.approved",
            customer=decided.customer,
            subject_type="order",
            subject_id=decided.pk,
            dedupe_key=f"order.approved:{decided.pk}",
        )
        emails.decision_on_commit(order_id=decided.pk)
    return decided
