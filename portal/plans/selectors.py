"""Reads of plans: the ones on offer (pages, API) and any plan an order in progress keeps."""

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.plans.models import Plan


def plans_available() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True)


def plan_get(*, slug: str) -> Plan:
    plan = plans_available().filter(slug=slug).first()
    if plan is None:
        raise Http404("No such plan")
    return plan


def plan_get_any(*, pk: int) -> Plan:
    """A plan by id, active or not (an order in progress keeps its plan)."""
    return get_object_or_404(Plan, pk=pk)
