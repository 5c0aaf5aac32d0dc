from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import rating
from billing import selectors as billing_selectors
from portal.actions import Principal
from portal.customers import selectors, services
from portal.customers.decorators import customer_required
from portal.customers.forms import InvitationForm, OnboardingForm, RoleForm, SwitchCustomerForm
from portal.customers.models import BILLING_ROLES, MANAGER_ROLES, Invitation, Role
from portal.orders import selectors as order_selectors
from provisioning import selectors as provisioning_selectors

PAGE_SIZE = 50
DASHBOARD_ROWS = 10
MANAGERS_ONLY = "Only owners and admins of your organisation can do that."


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@customer_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    """A summary: the counts, then the few filespaces that need attention or store the most.

    A customer with a hundred filespaces finds any of them in the full list (filespace_list);
    the dashboard's cost stays that of DASHBOARD_ROWS rows however many there are.
    """
    customer = request.customer
    month_start, _ = rating.month_of(timezone.now())
    listed = provisioning_selectors.attention_first(
        billing_selectors.with_stored_bytes(
            provisioning_selectors.filespaces_listed_for(customer=customer),
            month_start=month_start,
        )
    )
    ranked = listed.order_by(
        "attention_rank", F("stored_bytes").desc(nulls_last=True), "remote_name", "pk"
    )
    context = {
        **_filespace_rows(request, list(ranked[:DASHBOARD_ROWS])),
        "counts": provisioning_selectors.filespace_counts_for(customer=customer),
        "open_orders": order_selectors.orders_without_filespace_for(customer=customer),
    }
    return render(request, "dashboard/index.html", context)


@customer_required()
def filespace_list(request: HttpRequest) -> HttpResponse:
    """Every filespace of the customer, newest first, PAGE_SIZE a page."""
    filespaces = provisioning_selectors.filespaces_listed_for(customer=request.customer)
    page = Paginator(filespaces, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**_filespace_rows(request, list(page.object_list)), "page": page}
    return render(request, "filespaces/list.html", context)


def _filespace_rows(request: HttpRequest, filespaces: list) -> dict:
    """The rows of a filespace table, each with its usage to date for the billing roles."""
    show_costs = request.membership.role in BILLING_ROLES
    usage = {}
    if show_costs and filespaces:
        usage = billing_selectors.usage_to_date_for(
            customer=request.customer, filespaces=filespaces
        )
    return {"rows": [(fs, usage.get(fs.pk)) for fs in filespaces], "show_costs": show_costs}


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    form = OnboardingForm(request.POST or None, initial={"billing_email": request.user.email})
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[selectors.SESSION_KEY] = customer.pk
            messages.success(request, f"Welcome, {customer.name}. Your organisation is ready.")
            return redirect("dashboard")
    pending = Invitation.objects.filter(
        email__iexact=request.user.email, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("customer")
    context = {"form": form, "pending": [i for i in pending if i.is_open]}
    return render(request, "customers/onboarding.html", context)


@require_POST
@login_required
def switch_customer(request: HttpRequest) -> HttpResponse:
    form = SwitchCustomerForm(request.POST)
    membership = None
    if form.is_valid():
        membership = (
            selectors.memberships_for(user=request.user)
            .filter(customer_id=form.cleaned_data["customer"])
            .first()
        )
    if membership is None:
        messages.error(request, "You are not a member of that organisation.")
    else:
        request.session[selectors.SESSION_KEY] = membership.customer_id
        messages.success(request, f"You are now working in {membership.customer.name}.")
    return redirect("dashboard")


@customer_required()
def team(request: HttpRequest) -> HttpResponse:
    customer = request.customer
    context = {
        "members": selectors.members_for(customer=customer),
        "invitations": selectors.invitations_open_for(customer=customer),
        "form": InvitationForm(acting_role=request.membership.role),
        "can_manage": request.membership.role in MANAGER_ROLES,
        "roles": Role.choices,
        "ttl_days": settings.INVITATION_TTL_DAYS,
    }
    return render(request, "customers/team.html", context)


@require_POST
@customer_required(MANAGER_ROLES, denied=MANAGERS_ONLY)
def invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST, acting_role=request.membership.role)
    if form.is_valid():
        try:
            invitation, _token = services.invitation_create(
                customer=request.customer, invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("customers:team")


@require_POST
@customer_required(MANAGER_ROLES, denied=MANAGERS_ONLY)
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.invitation_get(customer=request.customer, pk=pk)
    services.invitation_revoke(invitation=invitation, by=Principal.from_request(request))
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("customers:team")


@require_POST
@customer_required(MANAGER_ROLES, denied=MANAGERS_ONLY)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = selectors.membership_get(customer=request.customer, pk=pk)
    try:
        services.membership_remove(membership=membership, acting=request.membership)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"{membership.user.email} no longer has access.")
    return redirect("customers:team")


@require_POST
@customer_required(MANAGER_ROLES, denied=MANAGERS_ONLY)
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = selectors.membership_get(customer=request.customer, pk=pk)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose a role.")
        services.membership_change_role(
            membership=membership, role=form.cleaned_data["role"], acting=request.membership
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display()}."
        )
    return redirect("customers:team")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_find(token=token)
    if not request.user.is_authenticated:
        if invitation is not None and invitation.is_open:
            # The link arrived at this address, so signing up with it needs no second check.
            get_adapter(request).stash_verified_email(request, invitation.email)
        return render(request, "customers/invitation.html", _invitation_context(invitation))
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            request.session[selectors.SESSION_KEY] = membership.customer_id
            messages.success(request, f"You joined {membership.customer.name}.")
            return redirect("dashboard")
    return render(request, "customers/invitation.html", _invitation_context(invitation))


def _invitation_context(invitation) -> dict:
    return {"invitation": invitation, "ttl_days": settings.INVITATION_TTL_DAYS}
