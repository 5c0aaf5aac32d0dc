"""Reads of API keys: a customer's own keys, or (staff) the MSP keys."""

from django.db.models import QuerySet
from django.http import Http404

from portal.apikeys.models import ApiKey
from portal.customers.models import Customer


def apikeys_for(*, customer: Customer) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(customer=customer).select_related("created_by", "revoked_by")


def apikey_get_for(*, customer: Customer, pk: int) -> ApiKey:
    key = apikeys_for(customer=customer).filter(pk=pk).first()
    if key is None:
        raise Http404("No such key")
    return key


def msp_apikeys() -> QuerySet[ApiKey]:
    """Staff only: keys that reach every customer."""
    return ApiKey.objects.filter(customer__isnull=True).select_related("created_by", "revoked_by")


def msp_apikey_get(*, pk: int) -> ApiKey:
    key = msp_apikeys().filter(pk=pk).first()
    if key is None:
        raise Http404("No such key")
    return key
