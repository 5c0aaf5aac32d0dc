"""The customer's view of the audit log: what staff and the system did to their organisation."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.audit.selectors import audit_entries_for
from portal.customers.decorators import customer_required
from portal.customers.models import MANAGER_ROLES

PAGE_SIZE = 50


@require_GET
@customer_required(MANAGER_ROLES, denied="Only owners and admins can see the activity log.")
def activity(request: HttpRequest) -> HttpResponse:
    entries = audit_entries_for(customer=request.customer)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/activity.html", {"page": page})
