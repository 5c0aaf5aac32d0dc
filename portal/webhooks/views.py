"""Pages for webhook subscriptions (customer owners/admins; staff for the MSP) and deliveries."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.actions import Principal
from portal.apikeys.views import manager_required
from portal.onetime import never_cached, pop_secret, stash_secret
from portal.staff.decorators import staff_required
from portal.webhooks import selectors, services
from portal.webhooks.forms import SubscriptionForm
from portal.webhooks.models import Delivery

ONE_TIME_SLOT = "webhook"


def _create(request: HttpRequest, form: SubscriptionForm, customer=None) -> bool:
    """Create a subscription from a valid form, its secret kept for the next page; False if not."""
    try:
        _subscription, secret = services.subscription_create(
            created_by=Principal.from_request(request), customer=customer, **form.cleaned_data
        )
    except ValidationError as exc:
        _add_errors(form, exc)
        return False
    stash_secret(request, ONE_TIME_SLOT, secret)
    return True


def _subscriptions_page(request: HttpRequest, context: dict) -> HttpResponse:
    secret = pop_secret(request, ONE_TIME_SLOT) if request.method == "GET" else None
    return never_cached(
        render(request, "webhooks/subscriptions.html", {**context, "secret": secret})
    )


def _add_errors(form: SubscriptionForm, exc: ValidationError) -> None:
    """Show a service's errors on the form; a field the form lacks goes to the top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_http_methods(["GET", "POST"])
@manager_required
def customer_webhooks(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if form.is_valid() and _create(request, form, request.customer):
        return redirect("apikeys:customer_webhooks")
    context = {
        "form": form,
        "subscriptions": selectors.subscriptions_for(customer=request.customer),
        "deliveries": selectors.deliveries_for(customer=request.customer),
        "msp": False,
    }
    return _subscriptions_page(request, context)


@require_POST
@manager_required
def customer_webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = selectors.subscription_get_for(customer=request.customer, pk=pk)
    services.subscription_delete(
        subscription=subscription, acting_user=Principal.from_request(request)
    )
    messages.success(request, f"Deliveries to {subscription.url} have stopped.")
    return redirect("apikeys:customer_webhooks")


@require_http_methods(["GET", "POST"])
@staff_required
def msp_webhooks(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if form.is_valid() and _create(request, form):
        return redirect("apikeys:msp_webhooks")
    context = {
        "form": form,
        "subscriptions": selectors.msp_subscriptions(),
        "deliveries": [],
        "msp": True,
    }
    return _subscriptions_page(request, context)


@require_POST
@staff_required
def msp_webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = selectors.msp_subscription_get(pk=pk)
    services.subscription_delete(
        subscription=subscription, acting_user=Principal.from_request(request)
    )
    messages.success(request, f"Deliveries to {subscription.url} have stopped.")
    return redirect("apikeys:msp_webhooks")


@require_GET
@staff_required
def msp_deliveries(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    if state not in Delivery.State.values:
        state = ""
    deliveries = selectors.deliveries_recent(state=state)
    context = {"deliveries": deliveries, "state": state, "states": Delivery.State.choices}
    return render(request, "webhooks/deliveries.html", context)


@require_POST
@staff_required
def msp_delivery_replay(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = selectors.delivery_get(pk=pk)
    services.delivery_replay(delivery=delivery, acting_user=Principal.from_request(request))
    messages.success(request, f"Delivery {delivery.pk} will be sent again now.")
    return redirect("apikeys:msp_deliveries")
