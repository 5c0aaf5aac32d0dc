"""Representations of the REST API (and of webhook payloads, which reuse them)."""

from __future__ import annotations

from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import DailyUsage, Invoice, InvoiceLine, UsageSample
from portal.audit.display import actor_shown_to_customer
from portal.audit.models import AuditEntry
from portal.customers.models import Customer
from portal.orders.models import Order
from portal.plans.models import Plan
from provisioning.models import Filespace, ProvisioningEvent

# --- Errors ----------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: validation_error, not_found, ...")
    message = serializers.CharField(help_text="A sentence a person can act on.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages; `non_field_errors` for the request as a whole.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- Plans -----------------------------------------------------------------------------------


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "storage_owner",
            "subscription_type",
            "provider",
            "allowed_regions",
            "currency",
            "price_per_unit_month",
            "billing_unit",
            "quantity_rule",
            "included_units",
            "minimum_monthly_charge",
            "requires_approval",
            "is_active",
        ]
        read_only_fields = fields


# --- Customers -------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "name_prefix", "billing_email", "country", "status", "created_at"]
        read_only_fields = fields


class CustomerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    billing_email = serializers.EmailField(max_length=254)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        max_length=2,
        error_messages={"invalid": "Use the two-letter ISO 3166-1 code, such as GB or US."},
    )

    def validate_country(self, value: str) -> str:
        if value.upper() not in countries:
            raise serializers.ValidationError(
                f"{value} is not an ISO 3166-1 country code; use one such as GB or US."
            )
        return value.upper()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RequiredReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# --- Orders ----------------------------------------------------------------------------------


class OrderSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True)
    plan = serializers.IntegerField(source="plan_id", read_only=True)
    filespace = serializers.SerializerMethodField()

    class Meta:
        model = Order
        # The bucket keys are write-only secrets: never part of any answer.
        fields = [
            "id",
            "customer",
            "plan",
            "name",
            "remote_name",
            "provider",
            "region",
            "bucket",
            "endpoint",
            "state",
            "placed_at",
            "decided_at",
            "decision_reason",
            "filespace",
        ]
        read_only_fields = fields

    def get_filespace(self, order: Order) -> int | None:
        try:
            return order.filespace.pk
        except Filespace.DoesNotExist:  # the reverse one-to-one: no filespace yet
            return None


class OrderCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(
        required=False, min_value=1, help_text="MSP keys only: the customer ordering."
    )
    plan = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=63)
    provider = serializers.CharField(max_length=30)
    region = serializers.CharField(max_length=64)
    bucket = serializers.CharField(max_length=63, required=False, allow_blank=True)
    endpoint = serializers.CharField(max_length=255, required=False, allow_blank=True)
    access_key = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True
    )
    secret_key = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True
    )


# --- Filespaces ------------------------------------------------------------------------------


class ProvisioningEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningEvent
        fields = ["kind", "message", "at"]
        read_only_fields = fields


class FilespaceSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True)
    order = serializers.IntegerField(source="order_id", read_only=True)
    plan = serializers.IntegerField(source="plan_id", read_only=True)
    qualified_name = serializers.CharField(read_only=True)

    class Meta:
        model = Filespace
        fields = [
            "id",
            "customer",
            "order",
            "plan",
            "remote_name",
            "qualified_name",
            "domain_name",
            "storage_owner",
            "subscription_type",
            "provider",
            "region",
            "bucket",
            "endpoint",
            "state",
            "remote_status",
            "last_error",
            "requested_at",
            "provisioned_at",
            "active_at",
            "failed_at",
            "deleted_at",
        ]
        read_only_fields = fields


class FilespaceDetailSerializer(FilespaceSerializer):
    events = serializers.SerializerMethodField()

    class Meta(FilespaceSerializer.Meta):
        fields = [*FilespaceSerializer.Meta.fields, "events"]
        read_only_fields = fields

    @extend_schema_field(ProvisioningEventSerializer(many=True))
    def get_events(self, filespace: Filespace) -> list[dict]:
        from provisioning.selectors import filespace_timeline

        events = filespace_timeline(filespace=filespace)
        return ProvisioningEventSerializer(events, many=True).data


# --- Usage -----------------------------------------------------------------------------------


class UsageSampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageSample
        fields = [
            "id",
            "slot",
            "sampled_at",
            "used_storage",
            "filespace_size",
            "users_count",
            "get_request_count",
            "get_data_size",
            "put_request_count",
            "put_data_size",
            "list_request_count",
            "delete_request_count",
        ]
        read_only_fields = fields


class DailyUsageSerializer(serializers.ModelSerializer):
    used_storage_average = serializers.DecimalField(max_digits=30, decimal_places=2, read_only=True)

    class Meta:
        model = DailyUsage
        fields = [
            "id",
            "day",
            "sample_count",
            "gap_count",
            "used_storage_average",
            "used_storage_min",
            "used_storage_max",
            "used_storage_last",
            "users_peak",
            "get_data_growth",
            "put_data_growth",
        ]
        read_only_fields = fields


# --- Invoices --------------------------------------------------------------------------------


class InvoiceLineSerializer(serializers.ModelSerializer):
    filespace = serializers.IntegerField(source="filespace_id", read_only=True, allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "description",
            "filespace",
            "window_start",
            "window_end",
            "unit",
            "quantity",
            "included",
            "billable",
            "unit_price",
            "amount",
            "gap_slots",
            "tax_percent",
            "tax_base",
            "note",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True)
    credits = serializers.IntegerField(source="credits_id", read_only=True, allow_null=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "customer",
            "kind",
            "status",
            "number",
            "period_start",
            "currency",
            "total",
            "credits",
            "reason",
            "finalized_at",
        ]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]
        read_only_fields = fields


# --- Audit -----------------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True, allow_null=True)
    actor = serializers.SerializerMethodField(
        help_text="Who acted. Customer keys see MSP staff as '<MSP name> staff', never by email."
    )
    target_type = serializers.SerializerMethodField()
    before = serializers.JSONField(read_only=True, allow_null=True)
    after = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "customer",
            "customer_label",
            "target_type",
            "target_id",
            "target_label",
            "before",
            "after",
            "note",
        ]
        read_only_fields = fields

    def get_actor(self, entry: AuditEntry) -> str:
        key = getattr(self.context.get("request"), "auth", None)
        if key is not None and getattr(key, "is_msp", False):
            return entry.actor_label
        # Anything else (a customer key, or no key at all) is the customer's view.
        return actor_shown_to_customer(entry)

    def get_target_type(self, entry: AuditEntry) -> str | None:
        if entry.target_type_id is None:
            return None
        return f"{entry.target_type.app_label}.{entry.target_type.model}"


# --- Plan changes ----------------------------------------------------------------------------


class PlanChangeRequestSerializer(serializers.Serializer):
    plan = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class PlanChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    filespace = serializers.IntegerField(source="filespace_id", read_only=True)
    from_plan = serializers.IntegerField(source="from_plan_id", read_only=True)
    to_plan = serializers.IntegerField(source="to_plan_id", read_only=True)
    state = serializers.CharField(read_only=True)
    requested_at = serializers.DateTimeField(read_only=True)
    effective_at = serializers.DateTimeField(read_only=True, allow_null=True)
