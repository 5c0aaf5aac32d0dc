from django import template

from billing.payments import dunning

register = template.Library()


@register.filter
def suspended_for_nonpayment(customer) -> bool:
    """True when dunning suspended this customer for an unpaid invoice (the banner says so)."""
    return customer is not None and dunning.suspended_for_nonpayment(customer)
