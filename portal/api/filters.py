"""Query-string filters for the list endpoints, validated like any other input (400 on junk)."""

from rest_framework import serializers

from billing.models import Invoice
from portal.customers.models import Customer
from portal.orders.models import Order
from portal.plans.models import StorageOwner
from provisioning.models import Filespace


class PlanFilter(serializers.Serializer):
    provider = serializers.CharField(required=False, max_length=30)
    storage_owner = serializers.ChoiceField(choices=StorageOwner.choices, required=False)


class CustomerFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Customer.Status.choices, required=False)
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the name.")


class OrderFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1)
    plan = serializers.IntegerField(required=False, min_value=1)
    state = serializers.ChoiceField(choices=Order.State.choices, required=False)
    placed_after = serializers.DateTimeField(required=False)
    placed_before = serializers.DateTimeField(required=False)


class FilespaceFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1)
    plan = serializers.IntegerField(required=False, min_value=1)
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
    customer = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices, required=False)
    period = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="A month, such as 2026-06.",
        error_messages={"invalid": "Use a month such as 2026-06."},
    )


class AuditFilter(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1)
    action = serializers.CharField(required=False, max_length=80, help_text="Action prefix.")
    since = serializers.DateTimeField(required=False)


def parse(filter_class, request) -> dict:
    """The validated filters of this request; a ValidationError (400) names the bad one."""
    known = {name: request.query_params.get(name) for name in filter_class().fields}
    data = {name: value for name, value in known.items() if value not in (None, "")}
    serializer = filter_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
