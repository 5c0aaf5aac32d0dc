"""View guards: who is signed in, which customer they act for, and what their role allows."""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from portal.customers.models import ALL_ROLES
from portal.customers.selectors import current_membership


def customer_required(
    roles: Iterable[str] = ALL_ROLES, *, denied: str = "Your role does not allow this."
) -> Callable:
    """Require a signed-in member of a customer whose role is in `roles`.

    The view receives the membership as `request.membership` and the customer as
    `request.customer`. A person with no customer goes to onboarding; a role that does not
    fit goes back to the dashboard with `denied` as the message (htmx gets a 403).
    """
    allowed = frozenset(roles)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is None:
                return redirect("customers:onboarding")
            if membership.role not in allowed:
                if getattr(request, "htmx", False):
                    return HttpResponse(denied, status=403)
                messages.error(request, denied)
                return redirect("dashboard")
            request.membership = membership
            request.customer = membership.customer
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
