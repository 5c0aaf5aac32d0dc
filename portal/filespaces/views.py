from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.actions import Principal
from portal.customers.decorators import customer_required
from portal.customers.models import BILLING_ROLES, MANAGER_ROLES
from portal.filespaces import kit as kits
from portal.filespaces.guide import guide_for
from portal.filespaces.progress import progress_for
from provisioning import selectors as provisioning_selectors
from provisioning.managed import services as managed
from provisioning.rules import BLOCK_SIZES_KIB, DEFAULT_BLOCK_SIZE_KIB
from provisioning.services import filespace_delete

# The connection kit is offered once LucidLink reports the filespace ready.
READY_STATES = ("provisioned", "active")


def _kit(filespace, own_user) -> kits.Kit:
    """The kit links as the person's own filespace user; as root only when there is none."""
    user_name = own_user.name if own_user is not None else "root"
    return kits.kit_for(filespace, access_key=filespace.order.access_key, user_name=user_name)


def _context(request: HttpRequest, filespace) -> dict:
    progress = progress_for(filespace)
    own_user = managed.own_filespace_user(filespace=filespace, user=request.user)
    init = getattr(filespace, "managed_init", None)
    guide = guide_for(filespace, init=init, own_user=own_user, requested=request.GET.get("step"))
    kit = _kit(filespace, own_user) if filespace.state in READY_STATES else None
    return {
        "filespace": filespace,
        "progress": progress,
        "guide": guide,
        "init": init,
        "own_user": own_user,
        "suggested_user_name": managed.suggested_user_name(request.user),
        "kit": kit,
        "live": not progress.settled or (guide is not None and guide.waiting),
        "can_manage": request.membership.role in MANAGER_ROLES,
        "can_change_plan": request.membership.role in BILLING_ROLES
        and filespace.state in READY_STATES,
        "block_sizes": BLOCK_SIZES_KIB,
        "default_block_size": DEFAULT_BLOCK_SIZE_KIB,
    }


@require_GET
@customer_required()
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    return render(request, "filespaces/detail.html", _context(request, filespace))


@require_GET
@customer_required()
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The timeline and guide partial the detail page polls with htmx while work is under way."""
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    return render(request, "filespaces/_progress.html", _context(request, filespace))


@require_GET
@customer_required()
def script(request: HttpRequest, pk: int, shell: str) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if filespace.state not in READY_STATES:
        raise Http404("The connection kit is available once the filespace is ready.")
    own_user = managed.own_filespace_user(filespace=filespace, user=request.user)
    if own_user is None and filespace.root_password:
        # The portal holds root, so nobody links as root: the person's own user comes first.
        raise Http404("Create your filespace user on the filespace page first.")
    kit = _kit(filespace, own_user)
    run_init = filespace.state == "provisioned"
    if shell == "sh":
        body = kits.bash_script(kit, msp_name=settings.MSP_NAME, run_init=run_init)
        content_type = "text/x-shellscript; charset=utf-8"
    else:
        body = kits.powershell_script(kit, msp_name=settings.MSP_NAME, run_init=run_init)
        content_type = "text/plain; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    filename = f"connect-{filespace.remote_name}.{shell}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@customer_required(MANAGER_ROLES, denied="Only owners and admins of your organisation can delete.")
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete after the person types the filespace's name, so one stray click cannot."""
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if request.POST.get("confirm", "").strip() != filespace.remote_name:
        messages.error(request, f"Type {filespace.remote_name} to confirm the deletion.")
        return redirect("filespaces:detail", pk=pk)
    try:
        filespace_delete(filespace=filespace, by=Principal.from_request(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{filespace.qualified_name} is being deleted.")
    return redirect("filespaces:detail", pk=pk)
