"""Staff console: move a filespace to another plan, and decide the changes that wait for staff.

Every rule is the action's (billing.services.plan_change); these views fetch, call and report.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import services as billing
from billing.models import PlanChange
from portal.actions import Principal
from portal.filespaces.plan_forms import PlanChangeForm
from portal.filespaces.plan_views import fitting_plans, plan_change_context
from portal.staff import selectors
from portal.staff.decorators import staff_required
from portal.staff.forms import OptionalReasonForm


@require_http_methods(["GET", "POST"])
@staff_required
def filespace_change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = selectors.filespace_get(pk=pk)
    if request.method == "GET":
        context = plan_change_context(filespace, request.GET)
        status = 400 if request.GET and not context["form"].is_valid() else 200
        return render(request, "staff/filespace_change_plan.html", context, status=status)
    form = PlanChangeForm(request.POST, plans=fitting_plans(filespace))
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["plan"]))
        return redirect("staff:filespace_change_plan", pk=pk)
    try:
        change = billing.filespace_plan_change(
            filespace=filespace, plan=form.cleaned_data["plan"], by=Principal.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("staff:filespace_change_plan", pk=pk)
    messages.success(request, f"{filespace.remote_name} is on {change.to_plan.name} from now on.")
    return redirect("staff:plan_changes")


@require_GET
@staff_required
def plan_change_list(request: HttpRequest) -> HttpResponse:
    changes = PlanChange.objects.select_related(
        "filespace__customer", "from_plan", "to_plan", "decided_by"
    )
    context = {
        "pending": changes.filter(state=PlanChange.State.PENDING).order_by("requested_at"),
        "recent": changes.exclude(state=PlanChange.State.PENDING)[:50],
    }
    return render(request, "staff/plan_change_list.html", context)


def _pending(pk: int) -> PlanChange:
    change = (
        PlanChange.objects.select_related("filespace__customer", "to_plan").filter(pk=pk).first()
    )
    if change is None:
        raise Http404("No such plan change")
    return change


@require_POST
@staff_required
def plan_change_approve(request: HttpRequest, pk: int) -> HttpResponse:
    change = _pending(pk)
    try:
        billing.plan_change_approve(plan_change=change, by=Principal.from_request(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"{change.filespace.remote_name} is on {change.to_plan.name} from now on."
        )
    return redirect("staff:plan_changes")


@require_POST
@staff_required
def plan_change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    change = _pending(pk)
    form = OptionalReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("staff:plan_changes")
    try:
        billing.plan_change_reject(
            plan_change=change,
            by=Principal.from_request(request),
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The move of {change.filespace.remote_name} was rejected.")
    return redirect("staff:plan_changes")
