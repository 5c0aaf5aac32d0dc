"""Pages to create and revoke API keys: customer keys (owners, admins) and MSP keys (staff)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.actions import Principal
from portal.apikeys import selectors, services
from portal.apikeys.forms import ApiKeyForm
from portal.customers.decorators import customer_required
from portal.customers.models import MANAGER_ROLES
from portal.onetime import never_cached, pop_secret, stash_secret
from portal.staff.decorators import staff_required

manager_required = customer_required(
    MANAGER_ROLES, denied="Only owners and admins can manage API keys and webhooks."
)


NEW_KEY_SLOT = "apikey"


def _create(request: HttpRequest, form: ApiKeyForm, customer=None) -> bool:
    """Create a key from a valid form and keep it for the next page; False after an error."""
    try:
        _key, raw = services.apikey_create(
            name=form.cleaned_data["name"],
            created_by=Principal.from_request(request),
            customer=customer,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    stash_secret(request, NEW_KEY_SLOT, raw)
    return True


def _keys_page(request: HttpRequest, form: ApiKeyForm, keys, *, msp: bool) -> HttpResponse:
    new_key = pop_secret(request, NEW_KEY_SLOT) if request.method == "GET" else None
    context = {"form": form, "keys": keys, "new_key": new_key, "msp": msp}
    return never_cached(render(request, "apikeys/keys.html", context))


@require_http_methods(["GET", "POST"])
@manager_required
def customer_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if form.is_valid() and _create(request, form, request.customer):
        return redirect("apikeys:customer_keys")
    keys = selectors.apikeys_for(customer=request.customer)
    return _keys_page(request, form, keys, msp=False)


@require_POST
@manager_required
def customer_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.apikey_get_for(customer=request.customer, pk=pk)
    services.apikey_revoke(apikey=key, acting_user=Principal.from_request(request))
    messages.success(request, f"The key {key.name} is revoked; it no longer works.")
    return redirect("apikeys:customer_keys")


@require_http_methods(["GET", "POST"])
@staff_required
def msp_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if form.is_valid() and _create(request, form):
        return redirect("apikeys:msp_keys")
    return _keys_page(request, form, selectors.msp_apikeys(), msp=True)


@require_POST
@staff_required
def msp_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.msp_apikey_get(pk=pk)
    services.apikey_revoke(apikey=key, acting_user=Principal.from_request(request))
    messages.success(request, f"The MSP key {key.name} is revoked; it no longer works.")
    return redirect("apikeys:msp_keys")
