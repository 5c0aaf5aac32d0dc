from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.plans import selectors


@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "plans/list.html", {"plans": selectors.plans_available()})


@require_GET
def plan_detail(request: HttpRequest, slug: str) -> HttpResponse:
    plan = selectors.plan_get(slug=slug)
    return render(request, "plans/detail.html", {"plan": plan})
