"""Staff pages for orphan filespaces: what the orphan sweep found, and adopting or deleting it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.staff.decorators import staff_required
from provisioning.models import Filespace, OrphanFilespace
from provisioning.services import orphans


@require_GET
@staff_required
def orphan_list(request: HttpRequest) -> HttpResponse:
    flags = list(orphans.orphans_open())
    names = {flag.remote_name for flag in flags}
    candidates: dict[str, list[Filespace]] = {}
    for row in (
        Filespace.objects.filter(remote_name__in=names, state=Filespace.State.ERROR)
        .select_related("customer")
        .order_by("-requested_at")
    ):
        candidates.setdefault(row.remote_name, []).append(row)
    rows = [(flag, candidates.get(flag.remote_name, [])) for flag in flags]
    return render(request, "staff/orphan_list.html", {"rows": rows})


def _run(request: HttpRequest, action, success: str) -> None:
    try:
        action()
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return
    messages.success(request, success)


@require_POST
@staff_required
def orphan_adopt(request: HttpRequest, pk: int) -> HttpResponse:
    orphan = get_object_or_404(OrphanFilespace, pk=pk)
    try:
        filespace_pk = int(request.POST.get("filespace", ""))
    except ValueError:
        messages.error(request, "Choose the failed order that should take this filespace.")
        return redirect("staff:orphans")
    filespace = Filespace.objects.filter(pk=filespace_pk).first()
    if filespace is None:
        messages.error(request, "That order's filespace no longer exists.")
        return redirect("staff:orphans")
    _run(
        request,
        lambda: orphans.orphan_adopt(orphan=orphan, filespace=filespace, acting_user=request.user),
        f"{orphan.remote_name} now belongs to {filespace.customer.name}'s order.",
    )
    return redirect("staff:orphans")


@require_POST
@staff_required
def orphan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    orphan = get_object_or_404(OrphanFilespace, pk=pk)
    _run(
        request,
        lambda: orphans.orphan_delete(
            orphan=orphan, acting_user=request.user, confirm=request.POST.get("confirm", "")
        ),
        f"{orphan.remote_name} will be deleted at LucidLink.",
    )
    return redirect("staff:orphans")
