"""Moving a filespace to another plan: choose, see the price difference, confirm.

The filespace is fetched through the customer-scoped selector (another customer's id is a 404);
owners, admins and billing members may change the plan. The rules are the action's
(billing.services.filespace_plan_change); this page only shows what it would cost.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from billing import services as billing
from billing.models import PlanChange
from portal.actions import Principal
from portal.customers.decorators import customer_required
from portal.customers.models import BILLING_ROLES
from portal.filespaces.plan_forms import PlanChangeForm
from portal.plans.models import Plan
from provisioning import selectors as provisioning_selectors

DENIED = "Only owners, admins and billing members can change a filespace's plan."


def fitting_plans(filespace):
    """Active plans the filespace may move to, as a queryset (for the form's choices)."""
    plans = list(Plan.objects.filter(is_active=True))
    ids = [plan.pk for plan in billing.plans_fitting(filespace=filespace, plans=plans)]
    return Plan.objects.filter(pk__in=ids)


def plan_change_context(filespace, data) -> dict:
    """The form, and the preview once a fitting plan is chosen; shared with the staff page."""
    form = PlanChangeForm(data or None, plans=fitting_plans(filespace))
    preview = None
    if data and form.is_valid():
        preview = billing.plan_change_preview(
            filespace=filespace, plan=form.cleaned_data["plan"], now=timezone.now()
        )
    pending = PlanChange.objects.filter(filespace=filespace, state=PlanChange.State.PENDING)
    return {
        "filespace": filespace,
        "form": form,
        "preview": preview,
        "chosen": form.cleaned_data["plan"] if preview else None,
        "pending": pending.select_related("to_plan").first(),
    }


@require_http_methods(["GET", "POST"])
@customer_required(BILLING_ROLES, denied=DENIED)
def change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = provisioning_selectors.filespace_get(customer=request.customer, pk=pk)
    if request.method == "GET":
        context = plan_change_context(filespace, request.GET)
        status = 400 if request.GET and not context["form"].is_valid() else 200
        return render(request, "filespaces/change_plan.html", context, status=status)
    form = PlanChangeForm(request.POST, plans=fitting_plans(filespace))
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["plan"]))
        return redirect("filespaces:change_plan", pk=pk)
    try:
        change = billing.filespace_plan_change(
            filespace=filespace, plan=form.cleaned_data["plan"], by=Principal.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("filespaces:change_plan", pk=pk)
    messages.success(request, _outcome(change))
    return redirect("filespaces:detail", pk=pk)


def _outcome(change: PlanChange) -> str:
    if change.state == PlanChange.State.PENDING:
        return f"Your move to {change.to_plan.name} is waiting for approval by our staff."
    return (
        f"The filespace is on {change.to_plan.name} from now on; this month's bill is split here."
    )
