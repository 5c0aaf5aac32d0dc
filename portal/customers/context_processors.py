from django.http import HttpRequest

from portal.customers.selectors import current_membership, memberships_for


def membership(request: HttpRequest) -> dict:
    """The current membership and the person's other customers, for the header switcher."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "current_membership": lambda: current_membership(request),
        "all_memberships": lambda: list(memberships_for(user=request.user)),
    }
