"""Reads of the customer's own rows (memberships, invitations), scoped to the customer.

`current_membership(request)` decides which customer a request acts for (the one chosen in the
session, if the user still belongs to it); the other selectors take that customer and never
return another customer's rows. The customer's filespaces, orders, plans and usage are read
through the selectors of the apps that own them (provisioning, portal.orders, portal.plans,
billing), which take the customer the same way.
"""

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from portal.customers.models import Customer, Invitation, Membership
from portal.observability import context

SESSION_KEY = "current_customer_id"
_CACHE_ATTR = "_current_membership"


def memberships_for(*, user) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user).select_related("customer").order_by("customer__name")
    )


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts through, or None for a person with no customer yet."""
    if hasattr(request, _CACHE_ATTR):
        return getattr(request, _CACHE_ATTR)
    memberships = memberships_for(user=request.user)
    wanted = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    membership = None
    if wanted is not None:
        membership = memberships.filter(customer_id=wanted).first()
    if membership is None:
        membership = memberships.first()
    setattr(request, _CACHE_ATTR, membership)
    if membership is not None:
        # Log lines of this request, and tasks it enqueues, carry the customer from here on.
        context.bind(customer_id=membership.customer_id)
    return membership


def members_for(*, customer: Customer) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(customer=customer).select_related("user").order_by("created_at")
    )


def membership_get(*, customer: Customer, pk: int) -> Membership:
    return _get_or_404(members_for(customer=customer), pk)


def invitations_open_for(*, customer: Customer) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        customer=customer, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def invitation_get(*, customer: Customer, pk: int) -> Invitation:
    return _get_or_404(invitations_open_for(customer=customer), pk)


def _get_or_404(queryset: QuerySet, pk):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("Not found")
    return obj
