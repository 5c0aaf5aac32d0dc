"""Reads for the staff console. Staff see every customer, so these are not customer-scoped, but
each page's related rows are chosen here once, so a page's query count does not grow with data."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Page
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from billing.payments.selectors import account_find
from portal.audit.models import AuditEntry
from portal.customers.models import Customer, CustomerTermination, Membership
from portal.orders.models import Order
from portal.pagination import CountedPaginator
from portal.plans.models import Plan
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.selectors import stuck_filter

TIMELINE_LIMIT = 100
# The staff customer page shows a customer's summary and their latest rows; the rest of the
# history is one link away (filespace pages, the billing drill-down, the audit log), so the
# page costs what it shows whatever the customer's age and size.
FILESPACE_PAGE_SIZE = 25
RECENT_ORDERS = 10
RECENT_INVOICES = 12
RECENT_TIMELINE = 25
FILESPACE_EVENTS = 30
# Provisioned, but the portal's own `lucid init-s3` failed: the customer was told support knows.
_INIT_FAILED = Q(state=Filespace.State.PROVISIONED, managed_init__state="failed")


@dataclass
class Attention:
    orders_awaiting: int
    filespaces_failed: int
    filespaces_stuck: int
    drift_flags: int
    below_cost_flags: int
    other_flags: int
    draft_invoices: int
    terminations_awaiting: int
    terminations_approved: int

    @property
    def total(self) -> int:
        return (
            self.orders_awaiting
            + self.filespaces_failed
            + self.filespaces_stuck
            + self.drift_flags
            + self.below_cost_flags
            + self.other_flags
            + self.draft_invoices
            + self.terminations_awaiting
        )


def attention_counts(*, now: datetime | None = None) -> Attention:
    """What needs a human, as counts (five queries whatever the data)."""
    from billing.models import BillingFlag, Invoice

    now = now or timezone.now()
    fs = Filespace.objects.aggregate(
        failed=Count("pk", filter=Q(state=Filespace.State.ERROR) | _INIT_FAILED),
        stuck=Count("pk", filter=stuck_filter(now=now)),
    )
    flags = BillingFlag.objects.filter(resolved_at__isnull=True).aggregate(
        drift=Count("pk", filter=Q(kind=BillingFlag.Kind.DRIFT)),
        below_cost=Count("pk", filter=Q(kind=BillingFlag.Kind.BELOW_COST)),
        other=Count(
            "pk", filter=~Q(kind__in=[BillingFlag.Kind.DRIFT, BillingFlag.Kind.BELOW_COST])
        ),
    )
    terminations = CustomerTermination.objects.aggregate(
        awaiting=Count("pk", filter=Q(state=CustomerTermination.State.AWAITING_APPROVAL)),
        approved=Count("pk", filter=Q(state=CustomerTermination.State.APPROVED)),
    )
    return Attention(
        orders_awaiting=Order.objects.filter(state=Order.State.AWAITING_APPROVAL).count(),
        filespaces_failed=fs["failed"],
        filespaces_stuck=fs["stuck"],
        drift_flags=flags["drift"],
        below_cost_flags=flags["below_cost"],
        other_flags=flags["other"],
        draft_invoices=Invoice.objects.filter(status=Invoice.Status.DRAFT).count(),
        terminations_awaiting=terminations["awaiting"],
        terminations_approved=terminations["approved"],
    )


def orders_awaiting_approval() -> QuerySet[Order]:
    return (
        Order.objects.filter(state=Order.State.AWAITING_APPROVAL)
        .select_related("customer", "plan", "placed_by")
        .order_by("placed_at", "id")
    )


def filespaces_needing_attention(*, now: datetime | None = None) -> QuerySet[Filespace]:
    """Failed filespaces (provisioning or the portal's init-s3) and those busy past the
    provisioning deadline, oldest change first."""
    now = now or timezone.now()
    return (
        Filespace.objects.filter(
            Q(state=Filespace.State.ERROR) | _INIT_FAILED | stuck_filter(now=now)
        )
        .select_related("customer", "plan", "managed_init")
        .order_by("updated_at", "id")
    )


def open_billing_flags() -> QuerySet:
    from billing.models import BillingFlag

    return (
        BillingFlag.objects.filter(resolved_at__isnull=True)
        .select_related("customer", "filespace")
        .order_by("-last_seen_at", "-id")
    )


def draft_invoices() -> QuerySet:
    from billing.models import Invoice

    return (
        Invoice.objects.filter(status=Invoice.Status.DRAFT)
        .select_related("customer")
        .order_by("period_start", "customer__name", "id")
    )


def open_terminations() -> QuerySet[CustomerTermination]:
    return (
        CustomerTermination.objects.filter(state__in=CustomerTermination.OPEN_STATES)
        .select_related("customer", "requested_by", "approved_by")
        .order_by("requested_at", "id")
    )


def customers_search(*, query: str = "", status: str = "") -> QuerySet[Customer]:
    """Customers matching a free-text query (name, prefix, billing email, member email) and a
    status, with member and live filespace counts computed in the same query."""
    members = (
        Membership.objects.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    filespaces = (
        Filespace.objects.filter(customer=OuterRef("pk"))
        .exclude(state=Filespace.State.DELETED)
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    customers = Customer.objects.annotate(
        member_count=Subquery(members), filespace_count=Subquery(filespaces)
    ).order_by("name", "id")
    query = (query or "").strip()
    if query:
        matching_members = Membership.objects.filter(user__email__icontains=query).values(
            "customer_id"
        )
        customers = customers.filter(
            Q(name__icontains=query)
            | Q(name_prefix__icontains=query)
            | Q(billing_email__icontains=query)
            | Q(pk__in=matching_members)
        )
    if status:
        customers = customers.filter(status=status)
    return customers


def customer_get(*, pk: int) -> Customer:
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise Http404("No such customer")
    return customer


@dataclass
class CustomerPage:
    customer: Customer
    members: list
    orders: list
    filespaces: list
    invoices: list
    terminations: list
    timeline: list
    filespace_page: Page | None = None
    # The saved card and invoice terms (None: the customer never started saving a card).
    payment_account: object | None = None
    # (state label, count) of every filespace of the customer, deleted ones included.
    filespace_states: list = field(default_factory=list)


@dataclass
class TimelineItem:
    at: datetime
    kind: str
    label: str
    actor: str
    detail: str
    subject: str


def customer_page(*, customer: Customer, filespace_page: str | None = None) -> CustomerPage:
    """The staff customer page: a summary and the latest rows, in a fixed number of queries.

    Filespaces FILESPACE_PAGE_SIZE at a time (``filespace_page``), their count by state from one
    GROUP BY (which also sizes the pager), the latest RECENT_ORDERS orders, RECENT_INVOICES
    documents and RECENT_TIMELINE timeline entries.
    """
    from billing.models import DailyUsage, Invoice

    by_state = dict(
        Filespace.objects.filter(customer=customer)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    labels = dict(Filespace.State.choices)
    states = [(labels[state], by_state[state]) for state in labels if by_state.get(state)]
    latest_usage = DailyUsage.objects.filter(filespace=OuterRef("pk")).order_by("-day")
    filespaces = (
        Filespace.objects.filter(customer=customer)
        .select_related("managed_init")
        # Only what the rows show: no plan row (its name is enough) and no root password,
        # which the page never shows and would otherwise decrypt.
        .only(*_FILESPACE_ROW_FIELDS, "managed_init__state")
        .annotate(
            plan_name=F("plan__name"),
            usage_day=Subquery(latest_usage.values("day")[:1]),
            usage_bytes=Subquery(latest_usage.values("used_storage_last")[:1]),
            usage_users=Subquery(latest_usage.values("users_peak")[:1]),
        )
        .order_by("-requested_at", "-id")
    )
    shown = CountedPaginator(filespaces, FILESPACE_PAGE_SIZE, count=sum(by_state.values()))
    shown = shown.get_page(filespace_page)
    members = list(
        Membership.objects.filter(customer=customer).select_related("user").order_by("created_at")
    )
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("placed_by", "decided_by")
        # The bucket keys are never shown here: not read, so never decrypted.
        .defer("access_key", "secret_key")
        .annotate(plan_name=F("plan__name"))
        .order_by("-placed_at", "-id")[:RECENT_ORDERS]
    )
    invoices = list(
        Invoice.objects.filter(customer=customer).order_by("-period_start", "-id")[:RECENT_INVOICES]
    )
    terminations = list(
        CustomerTermination.objects.filter(customer=customer)
        .select_related("requested_by", "approved_by", "cancelled_by")
        .order_by("-requested_at", "-id")[:10]
    )
    return CustomerPage(
        customer=customer,
        members=members,
        orders=orders,
        filespaces=list(shown.object_list),
        invoices=invoices,
        terminations=terminations,
        timeline=customer_timeline(customer=customer, limit=RECENT_TIMELINE),
        filespace_page=shown,
        payment_account=account_find(customer=customer),
        filespace_states=states,
    )


_FILESPACE_ROW_FIELDS = (
    "customer_id", "remote_name", "domain_name", "provider", "region", "state", "last_error",
    "requested_at",
)  # fmt: skip


def customer_timeline(*, customer: Customer, limit: int = TIMELINE_LIMIT) -> list[TimelineItem]:
    """Provisioning events and audit entries of one customer, newest first, merged."""
    events = (
        ProvisioningEvent.objects.filter(filespace__customer=customer)
        .select_related("filespace", "actor")
        .order_by("-at", "-id")[:limit]
    )
    entries = AuditEntry.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]
    items = [
        TimelineItem(
            at=event.at,
            kind="provisioning",
            label=event.get_kind_display(),
            actor=getattr(event.actor, "email", "") or "system",
            detail=event.message,
            subject=event.filespace.remote_name,
        )
        for event in events
    ] + [
        TimelineItem(
            at=entry.created_at,
            kind="audit",
            label=entry.action,
            actor=entry.actor_label,
            detail=entry.note,
            subject=entry.target_label,
        )
        for entry in entries
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def order_get(*, pk: int) -> Order:
    order = Order.objects.select_related("customer", "plan").filter(pk=pk).first()
    if order is None:
        raise Http404("No such order")
    return order


def filespace_get(*, pk: int) -> Filespace:
    filespace = Filespace.objects.select_related("customer", "plan").filter(pk=pk).first()
    if filespace is None:
        raise Http404("No such filespace")
    return filespace


@dataclass
class FilespacePage:
    filespace: Filespace
    events: list


def filespace_page(*, pk: int) -> FilespacePage:
    """One filespace for staff: its facts, the actions its state allows, its latest events."""
    filespace = (
        Filespace.objects.select_related("customer", "plan", "managed_init")
        .defer("root_password")
        .filter(pk=pk)
        .first()
    )
    if filespace is None:
        raise Http404("No such filespace")
    events = list(
        ProvisioningEvent.objects.filter(filespace=filespace)
        .select_related("actor")
        .order_by("-at", "-id")[:FILESPACE_EVENTS]
    )
    return FilespacePage(filespace=filespace, events=events)


def termination_get(*, pk: int) -> CustomerTermination:
    termination = CustomerTermination.objects.select_related("customer").filter(pk=pk).first()
    if termination is None:
        raise Http404("No such termination")
    return termination


def plans_all() -> QuerySet[Plan]:
    return Plan.objects.annotate(order_count=Count("orders")).order_by("-is_active", "name")


def plan_get(*, pk: int) -> Plan:
    plan = Plan.objects.filter(pk=pk).first()
    if plan is None:
        raise Http404("No such plan")
    return plan


def audit_log(*, query: str = "") -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.order_by("-created_at", "-id")
    query = (query or "").strip()
    if query:
        entries = entries.filter(
            Q(action__icontains=query)
            | Q(actor_label__icontains=query)
            | Q(customer_label__icontains=query)
            | Q(target_label__icontains=query)
        )
    return entries
