"""Pages for managed filespace operations: initialize, users, snapshots, snapshot schedules.

Every view fetches its object through a customer-scoped selector first (another customer's id
is a 404 whatever the role), then checks the role: everyone may look, only owners and admins
may change. The work is done by provisioning.managed; a refusal or a CLI failure re-renders
the page with the message and changes nothing.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.actions import Principal
from portal.customers.decorators import customer_required
from portal.customers.models import MANAGER_ROLES
from portal.filespaces import managed_forms as forms
from portal.filespaces import once
from provisioning import cli
from provisioning import selectors as provisioning_selectors
from provisioning.managed import services as managed
from provisioning.managed.models import FilespaceInit

DENIED = "Only owners and admins can change filespace users, snapshots and schedules."
# Errors from the services that mean "nothing was changed, here is why".
REFUSALS = (managed.OperationRefused, cli.CliError)


def _can_change(request: HttpRequest) -> bool:
    return request.membership.role in MANAGER_ROLES


def _denied(request: HttpRequest) -> HttpResponse:
    if getattr(request, "htmx", False):
        return HttpResponse(DENIED, status=403)
    messages.error(request, DENIED)
    return redirect("dashboard")


def _page(request: HttpRequest, filespace, status: int = 200, **bound) -> HttpResponse:
    """The manage page; `bound` replaces an empty form with one carrying errors."""
    snapshots, snapshots_error = [], ""
    try:
        snapshots = managed.filespace_snapshots(filespace=filespace)
    except cli.CliError as exc:
        snapshots_error = exc.message
    context = {
        "filespace": filespace,
        "can_change": _can_change(request),
        "blocked": managed.why_not_changeable(filespace=filespace),
        "init": FilespaceInit.objects.filter(filespace=filespace).first(),
        "users": filespace.managed_users.select_related("member"),
        "schedules": filespace.snapshot_schedules.all(),
        "snapshots": snapshots,
        "snapshots_error": snapshots_error,
        "user_form": bound.get("user_form") or forms.UserCreateForm(),
        "snapshot_form": bound.get("snapshot_form") or forms.SnapshotCreateForm(),
        "schedule_form": bound.get("schedule_form") or forms.ScheduleCreateForm(),
        "error": bound.get("error", ""),
    }
    return render(request, "filespaces/managed/manage.html", context, status=status)


def _failed(request, filespace, exc, **bound) -> HttpResponse:
    message = exc.message if isinstance(exc, REFUSALS) else " ".join(exc.messages)
    form = next(iter(bound.values()), None)
    if form is not None and isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    elif form is not None:
        form.add_error(None, message)
    # With a form the message sits on the form; without one it heads the page.
    error = "" if form is not None else message
    return _page(request, filespace, status=400, error=error, **bound)


@require_GET
@customer_required()
def manage(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, provisioning_selectors.filespace_get(customer=request.customer, pk=pk))


@require_POST
@customer_required()
def initialize(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if not _can_change(request):
        return _denied(request)
    form = forms.BlockSizeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["block_size"]))
        return redirect("filespaces:detail", pk=filespace.pk)
    try:
        managed.filespace_initialize_request(
            filespace=filespace,
            actor=Principal.from_request(request),
            block_size=form.cleaned_data["block_size"],
        )
    except managed.OperationRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Initialization started; this page shows when it is done.")
    return redirect("filespaces:detail", pk=filespace.pk)


@require_POST
@customer_required()
def user_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a filespace user; its password is shown once, on the page this redirects to."""
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if not _can_change(request):
        return _denied(request)
    form = forms.UserCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, filespace, status=400, user_form=form)
    try:
        user, password = managed.filespace_user_create(
            filespace=filespace, actor=Principal.from_request(request), **form.cleaned_data
        )
    except (*REFUSALS, ValidationError) as exc:
        return _failed(request, filespace, exc, user_form=form)
    # Shown on the GET after this POST, so a reload never posts again (POST-redirect-GET).
    once.stash(request, filespace_id=filespace.pk, kind="user", name=user.name, secret=password)
    return redirect("filespaces:secret", pk=filespace.pk)


@require_POST
@customer_required()
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    filespace_user = managed.filespace_user_get_for(customer=request.customer, pk=pk)
    if filespace_user is None:
        raise Http404("Not found")
    if not _can_change(request):
        return _denied(request)
    try:
        managed.filespace_user_delete(
            filespace_user=filespace_user, actor=Principal.from_request(request)
        )
    except REFUSALS as exc:
        return _failed(request, filespace_user.filespace, exc)
    messages.success(request, f"User {filespace_user.name} was deleted.")
    return redirect("filespaces:manage", pk=filespace_user.filespace_id)


@require_POST
@customer_required()
def snapshot_create(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if not _can_change(request):
        return _denied(request)
    form = forms.SnapshotCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, filespace, status=400, snapshot_form=form)
    try:
        snapshot_id = managed.filespace_snapshot_create(
            filespace=filespace,
            actor=Principal.from_request(request),
            name=form.cleaned_data["name"],
        )
    except (*REFUSALS, ValidationError) as exc:
        return _failed(request, filespace, exc, snapshot_form=form)
    messages.success(request, f"Snapshot {snapshot_id} was taken.")
    return redirect("filespaces:manage", pk=filespace.pk)


@require_POST
@customer_required()
def snapshot_delete(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if not _can_change(request):
        return _denied(request)
    form = forms.SnapshotDeleteForm(request.POST)
    if not form.is_valid():
        return _page(request, filespace, status=400, error="Choose a snapshot to delete.")
    snapshot_id = form.cleaned_data["snapshot_id"]
    try:
        managed.filespace_snapshot_delete(
            filespace=filespace, actor=Principal.from_request(request), snapshot_id=snapshot_id
        )
    except REFUSALS as exc:
        return _failed(request, filespace, exc)
    messages.success(request, f"Snapshot {snapshot_id} was deleted.")
    return redirect("filespaces:manage", pk=filespace.pk)


@require_POST
@customer_required()
def schedule_create(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if not _can_change(request):
        return _denied(request)
    form = forms.ScheduleCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, filespace, status=400, schedule_form=form)
    try:
        schedule = managed.snapshot_schedule_create(
            filespace=filespace, actor=Principal.from_request(request), **form.cleaned_data
        )
    except (*REFUSALS, ValidationError) as exc:
        return _failed(request, filespace, exc, schedule_form=form)
    messages.success(request, f"Schedule {schedule.name} was created.")
    return redirect("filespaces:manage", pk=filespace.pk)


@require_POST
@customer_required()
def schedule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = managed.snapshot_schedule_get_for(customer=request.customer, pk=pk)
    if schedule is None:
        raise Http404("Not found")
    if not _can_change(request):
        return _denied(request)
    try:
        managed.snapshot_schedule_delete(schedule=schedule, actor=Principal.from_request(request))
    except REFUSALS as exc:
        return _failed(request, schedule.filespace, exc)
    messages.success(request, f"Schedule {schedule.name} was deleted.")
    return redirect("filespaces:manage", pk=schedule.filespace_id)
