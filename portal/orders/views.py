import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from billing.payments import selectors as payment_selectors
from portal import fields
from portal.actions import Code, Principal, Refused
from portal.customers.decorators import customer_required
from portal.customers.models import MANAGER_ROLES
from portal.orders import drafts, selectors
from portal.orders.forms import OrderForm, PlaceForm, estimate_for, regions_for
from portal.plans import selectors as plan_selectors
from provisioning import rules
from provisioning import selectors as provisioning_selectors
from provisioning.services.ordering import name_taken

PAGE_SIZE = 50

logger = logging.getLogger(__name__)
ORDER_DENIED = "Only owners and admins of your organisation can order filespaces."


DOMAIN_DOWN_KEY = "orders:msp-domain-unavailable"
DOMAIN_DOWN_SECONDS = 60


def domain_name() -> str | None:
    """The MSP's LucidLink domain, or None while it cannot be read.

    A failed lookup is remembered for a minute, so typing in the name field does not wait for
    a LucidLink timeout on every keystroke while the service is down. Any failure (network,
    no domain yet, bad credentials) only hides the domain; the page still renders.
    """
    from provisioning.domain import msp_domain

    if cache.get(DOMAIN_DOWN_KEY):
        return None
    try:
        return msp_domain().name
    except Exception:
        logger.warning("The MSP domain could not be read for the order form.")
        cache.set(DOMAIN_DOWN_KEY, True, DOMAIN_DOWN_SECONDS)
        return None


def _refuse_inactive(request: HttpRequest) -> HttpResponse | None:
    if not request.customer.is_active:
        messages.error(request, "Your organisation is suspended; contact support to order.")
        return redirect("dashboard")
    return None


@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def new(request: HttpRequest, plan: str) -> HttpResponse:
    plan = plan_selectors.plan_get(slug=plan)
    if refused := _refuse_inactive(request):
        return refused
    if not payment_selectors.may_order(customer=request.customer):
        return _card_first(request, next_url=request.get_full_path())
    # "Change" on the review comes back here with its draft: the form shows what was typed.
    draft_key = (request.POST.get("draft") or request.GET.get("draft") or "")[:64]
    draft = drafts.draft_to_change(request, draft_key, customer=request.customer, plan=plan)
    data = request.POST or None
    if data is not None and drafts.draft_has_keys(draft):
        data = drafts.with_kept_keys(data, draft)
    form = OrderForm(
        data,
        initial=drafts.draft_initial(draft) if draft else None,
        plan=plan,
        customer=request.customer,
        keys_kept=drafts.draft_has_keys(draft),
    )
    if request.method == "POST" and form.is_valid():
        key = drafts.draft_save(
            request, customer=request.customer, plan=plan, data=form.cleaned_data
        )
        return redirect("orders:review", key=key)
    context = {
        "form": form,
        "plan": plan,
        "domain": domain_name(),
        "draft_key": draft_key if draft else "",
    }
    return render(request, "orders/new.html", context)


@require_GET
@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def check_name(request: HttpRequest) -> HttpResponse:
    """htmx: the name as typed, checked against the rules and for availability."""
    name = request.GET.get("name", "")[:100]
    context = {"name": name, "domain": domain_name()}
    try:
        context["remote_name"] = rules.validate_filespace_name(
            prefix=request.customer.name_prefix, name=name
        )
        if name_taken(context["remote_name"]):
            context["error"] = "This name is taken. Choose another one."
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
    return render(request, "orders/_name_check.html", context)


@require_GET
@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def regions(request: HttpRequest) -> HttpResponse:
    """htmx: the region field for the chosen provider (only valid combinations)."""
    plan = plan_selectors.plan_get(slug=request.GET.get("plan", "")[:50])
    provider = request.GET.get("provider", "")
    data = {"provider": provider, "region": ""}
    form = OrderForm(data, plan=plan, customer=request.customer)
    return render(
        request, "orders/_region.html", {"form": form, "regions": regions_for(plan, provider)}
    )


@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def review(request: HttpRequest, key: str) -> HttpResponse:
    draft = drafts.draft_get(request, key, customer=request.customer)
    if draft is None:
        messages.error(request, "This order form has expired. Please start again.")
        return redirect("plans:list")
    if draft.get("order_id"):
        return redirect("orders:detail", pk=draft["order_id"])
    plan = plan_selectors.plan_get_any(pk=draft["plan_id"])
    context = {
        "draft": draft,
        "plan": plan,
        "key": key,
        "form": PlaceForm(initial={"idempotency_key": key}),
        "estimate": estimate_for(plan=plan, expected_units=drafts.draft_expected_units(draft)),
        "domain": domain_name(),
        "region_label": rules.region_label(provider=draft["provider"], region=draft["region"]),
    }
    return render(request, "orders/review.html", context)


@require_POST
@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def place(request: HttpRequest) -> HttpResponse:
    from provisioning.services.ordering import order_place

    form = PlaceForm(request.POST)
    draft = key = None
    if form.is_valid():
        key = form.cleaned_data["idempotency_key"]
        draft = drafts.draft_get(request, key, customer=request.customer)
    if draft is None:
        messages.error(request, "This order form has expired. Please start again.")
        return redirect("plans:list")
    if draft.get("order_id"):
        # The same review submitted twice: the first submit placed it.
        return redirect("orders:detail", pk=draft["order_id"])
    if refused := _refuse_inactive(request):
        return refused
    plan = plan_selectors.plan_get_any(pk=draft["plan_id"])
    secrets = {k: fields.decrypt(draft[k]) for k in ("access_key", "secret_key") if draft.get(k)}
    try:
        order = order_place(
            customer=request.customer,
            plan=plan,
            name=draft["name"],
            provider=draft["provider"],
            region=draft["region"],
            bucket=draft.get("bucket") or None,
            endpoint=draft.get("endpoint") or None,
            access_key=secrets.get("access_key"),
            secret_key=secrets.get("secret_key"),
            by=Principal.from_request(request),
            idempotency_key=key,
        )
    except Refused as exc:
        if exc.code != Code.PAYMENT_METHOD_REQUIRED:
            return _back_to_form(request, plan=plan, draft=draft, exc=exc)
        return _card_first(request, next_url=reverse("orders:review", args=[key]))
    except ValidationError as exc:
        return _back_to_form(request, plan=plan, draft=draft, exc=exc)
    drafts.draft_mark_placed(request, key, order_id=order.pk)
    messages.success(request, f"Order placed for {order.remote_name}.")
    return redirect("orders:detail", pk=order.pk)


def _card_first(request: HttpRequest, *, next_url: str) -> HttpResponse:
    """Send a customer without a payment method to the card page, then back to the order."""
    messages.warning(request, "Save a card before your first order; your order is kept.")
    return redirect(f"{reverse('payments:payment_method')}?{urlencode({'next': next_url})}")


def _back_to_form(request: HttpRequest, *, plan, draft: dict, exc: ValidationError) -> HttpResponse:
    """Show the service's field errors on the form; secrets must be typed again."""
    data = {k: draft.get(k) or "" for k in ("name", "provider", "region", "bucket", "endpoint")}
    data["expected_units"] = draft.get("expected_units") or ""
    form = OrderForm(data, plan=plan, customer=request.customer)
    form.is_valid()
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        target = field if field in form.fields else None
        for message in field_messages:
            form.add_error(target, message)
    context = {"form": form, "plan": plan, "domain": domain_name()}
    return render(request, "orders/new.html", context, status=400)


@customer_required()
def order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.orders_listed_for(customer=request.customer)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orders/list.html", {"orders": page.object_list, "page": page})


@customer_required()
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(customer=request.customer, pk=pk)
    filespace = (
        provisioning_selectors.filespaces_for(customer=request.customer).filter(order=order).first()
    )
    if filespace is not None:
        if request.htmx:
            # The page polls while the order waits for approval; move on once it has a filespace.
            return HttpResponse(
                headers={"HX-Redirect": reverse("filespaces:detail", args=[filespace.pk])}
            )
        return redirect("filespaces:detail", pk=filespace.pk)
    return render(request, "orders/detail.html", {"order": order})


@require_POST
@customer_required(MANAGER_ROLES, denied=ORDER_DENIED)
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw an order that is still waiting for approval."""
    from portal.orders.services import order_cancel

    order = selectors.order_get(customer=request.customer, pk=pk)
    try:
        order_cancel(order=order, by=Principal.from_request(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The order for {order.remote_name} is cancelled.")
    return redirect("orders:detail", pk=pk)
