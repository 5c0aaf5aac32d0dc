"""Query-string filters for the list endpoints, validated like any other input (400 on junk)."""

from django.utils import timezone
from rest_framework import serializers

from billing.models import Invoice
from billing.selectors import PeriodError, parse_period
from portal.customers.models import Customer
from portal.orders.models import Order
from portal.plans.models import StorageOwner
from provisioning.models import Filespace

MAX_ID = 2**63 - 1


class PlanFilter(serializers.Serializer):
    provider = serializers.CharField(required=False, max_length=30)
    storage_owner = serializers.ChoiceField(choices=StorageOwner.choices, required=False)


class CustomerFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Customer.Status.choices, required=False)
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the name.")


class OrderFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    plan = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    state = serializers.ChoiceField(choices=Order.State.choices, required=False)
    placed_after = serializers.DateTimeField(required=False)
    placed_before = serializers.DateTimeField(required=False)


class FilespaceFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    plan = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    state = serializers.ChoiceField(
        choices=Filespace.State.choices,
        required=False,
        help_text="Without it, deleted filespaces are left out.",
    )
    name = serializers.CharField(required=False, max_length=63, help_text="Exact remote name.")


class SampleFilter(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="Slots at or after this time.")
    end = serializers.DateTimeField(required=False, help_text="Slots before this time.")


class DailyFilter(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="Days on or after this date.")
    end = serializers.DateField(required=False, help_text="Days before this date.")


class InvoiceFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices, required=False)
    period = serializers.CharField(
        required=False, max_length=7, help_text="A month, such as 2026-06."
    )

    def validate_period(self, value: str):
        """The month's first day, parsed by the same rule as the billing pages."""
        try:
            start, _end = parse_period(value, now=timezone.now())
        except PeriodError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return start.date()


class AuditFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    action = serializers.CharField(required=False, max_length=80, help_text="Action prefix.")
    since = serializers.DateTimeField(required=False)


def parse(filter_class, request) -> dict:
    """The validated filters of this request; a ValidationError (400) names the bad one."""
    known = {name: request.query_params.get(name) for name in filter_class().fields}
    data = {name: value for name, value in known.items() if value not in (None, "")}
    serializer = filter_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
