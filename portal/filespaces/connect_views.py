"""The connection guide's own actions: my filespace user, a new password, self-initialization.

Each fetches the filespace through the customer-scoped selector (another customer's id is a 404
for everyone), calls one action in provisioning.managed, and on success keeps the one-time
secret in the session and redirects to the page that shows it (POST-redirect-GET).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.customers.decorators import customer_required
from portal.filespaces import once
from portal.filespaces.managed_forms import BlockSizeForm
from provisioning import cli
from provisioning import selectors as provisioning_selectors
from provisioning.managed import services as managed

REFUSALS = (managed.OperationRefused, cli.CliError)


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, REFUSALS) else " ".join(exc.messages)


def _to_guide(pk: int) -> HttpResponse:
    return redirect(reverse("filespaces:detail", args=[pk]) + "#connect")


@require_POST
@customer_required()
def own_user_create(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    try:
        user, password = managed.filespace_own_user_create(
            filespace=filespace, actor=request.user, name=request.POST.get("name", "")
        )
    except (*REFUSALS, ValidationError) as exc:
        messages.error(request, _message(exc))
        return _to_guide(pk)
    once.stash(request, filespace_id=pk, kind="user", name=user.name, secret=password)
    return redirect("filespaces:secret", pk=pk)


@require_POST
@customer_required()
def user_reset_password(request: HttpRequest, pk: int) -> HttpResponse:
    filespace_user = managed.filespace_user_get_for(customer=request.customer, pk=pk)
    if filespace_user is None:
        raise Http404("Not found")
    filespace_id = filespace_user.filespace_id
    try:
        password = managed.filespace_user_reset_password(
            filespace_user=filespace_user, actor=request.user
        )
    except REFUSALS as exc:
        messages.error(request, exc.message)
        return _to_guide(filespace_id)
    once.stash(
        request, filespace_id=filespace_id, kind="user", name=filespace_user.name, secret=password
    )
    return redirect("filespaces:secret", pk=filespace_id)


@require_POST
@customer_required()
def self_initialize(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    form = BlockSizeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["block_size"]))
        return _to_guide(pk)
    try:
        root_password = managed.filespace_self_init_request(
            filespace=filespace, actor=request.user, block_size=form.cleaned_data["block_size"]
        )
    except managed.OperationRefused as exc:
        messages.error(request, exc.message)
        return _to_guide(pk)
    once.stash(request, filespace_id=pk, kind="root", name="root", secret=root_password)
    return redirect("filespaces:secret", pk=pk)


@require_POST
@customer_required()
def check_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask LucidLink now whether the filespace is initialized (after running init-s3)."""
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if filespace.state == "provisioned":
        managed.filespace_refresh_status(filespace=filespace)
        filespace.refresh_from_db()
    if filespace.state != "active":
        messages.info(request, "LucidLink does not report the filespace initialized yet.")
    return _to_guide(pk)


@require_GET
@customer_required()
def secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The one-time password, on the GET after the POST; a reload shows that it was shown."""
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    shown = once.take(request, filespace_id=pk)
    context = {"filespace": filespace, "shown": shown}
    response = render(request, "filespaces/secret.html", context)
    response["Cache-Control"] = "no-store"
    return response
