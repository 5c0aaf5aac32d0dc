"""REST API v1 (docs/api.md). Views are thin: scope through the key, call a service, serialize."""

from __future__ import annotations

import json
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from billing import services as billing_services
from billing.exports import invoice_csv_response
from billing.models import PlanChange
from billing.selectors import invoice_lines
from portal.actions import Principal, Refused
from portal.api import filters, selectors, serializers, services
from portal.api.errors import Conflict, error_response
from portal.api.permissions import HasApiKey, IsMspKey
from portal.customers import lifecycle
from portal.orders import services as order_services
from portal.plans.models import Plan
from provisioning import services as provisioning_services
from provisioning.services import ordering

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Sub-resource lists page like the top-level ones; spectacular only adds these to `list` itself.
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="The pagination cursor value."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Results per page (max 200)."),
]
IDEMPOTENCY_KEY_MAX = 60  # the order keeps "api:" + key in its 64-character column


class ApiViewSet(viewsets.GenericViewSet):
    permission_classes = [HasApiKey]
    # Ids beyond 64 bits would overflow the database: no such object, so the URL does not match.
    lookup_value_regex = r"[0-9]{1,18}"
    filter_class: type | None = None

    @property
    def key(self):
        return self.request.auth

    def filtered(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        return self.filtered(self.visible())

    def visible(self) -> QuerySet:
        raise NotImplementedError

    def params(self) -> dict:
        if self.filter_class is None or self.action != "list":
            return {}
        return filters.parse(self.filter_class, self.request)

    def principal(self) -> Principal:
        """The key is the acting principal (its creator is not: keys outlive people)."""
        return Principal.for_key(self.key)

    def finalize_response(self, request, response, *args, **kwargs):
        # An error keeps the API's JSON shape even where success is a file (the invoice CSV).
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _conflict_on_state(exc: DjangoValidationError) -> Exception:
    """A service's non-field ValidationError on a state check is a 409 for the API; an action's
    refusal keeps its own code and status (portal.api.errors)."""
    if hasattr(exc, "error_dict") or isinstance(exc, Refused):
        return exc
    return Conflict(" ".join(exc.messages))


# --- Plans -----------------------------------------------------------------------------------


@extend_schema(tags=["plans"], parameters=[filters.PlanFilter])
class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Plans on offer (MSP keys also see withdrawn plans)."""

    serializer_class = serializers.PlanSerializer
    filter_class = filters.PlanFilter

    def visible(self):
        return selectors.plans_visible(key=self.key)

    def filtered(self, queryset):
        params = self.params()
        if "provider" in params:
            queryset = queryset.filter(provider=params["provider"])
        if "storage_owner" in params:
            queryset = queryset.filter(storage_owner=params["storage_owner"])
        return queryset


# --- Customers -------------------------------------------------------------------------------


@extend_schema(tags=["customers"])
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Organisations. A customer key sees only its own; MSP keys create, suspend and resume."""

    serializer_class = serializers.CustomerSerializer
    filter_class = filters.CustomerFilter

    def get_permissions(self):
        if self.action in ("create", "suspend", "resume"):
            return [HasApiKey(), IsMspKey()]
        return super().get_permissions()

    def visible(self):
        return selectors.customers_visible(key=self.key)

    def filtered(self, queryset):
        params = self.params()
        if "status" in params:
            queryset = queryset.filter(status=params["status"])
        if "search" in params:
            queryset = queryset.filter(name__icontains=params["search"])
        return queryset

    @extend_schema(parameters=[filters.CustomerFilter])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=serializers.CustomerCreateSerializer,
        responses={201: serializers.CustomerSerializer},
    )
    def create(self, request):
        form = serializers.CustomerCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        customer = services.customer_create_for_msp(**form.validated_data, by=self.principal())
        return Response(serializers.CustomerSerializer(customer).data, status=201)

    @extend_schema(
        request=serializers.RequiredReasonSerializer,
        responses={200: serializers.CustomerSerializer},
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend an active customer: no new orders; filespaces and billing go on."""
        customer = self.get_object()
        form = serializers.RequiredReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            customer = lifecycle.customer_suspend(
                customer=customer, by=self.principal(), **form.validated_data
            )
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        return Response(serializers.CustomerSerializer(customer).data)

    @extend_schema(
        request=serializers.ReasonSerializer, responses={200: serializers.CustomerSerializer}
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Lift a suspension."""
        customer = self.get_object()
        form = serializers.ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            customer = lifecycle.customer_resume(
                customer=customer, by=self.principal(), **form.validated_data
            )
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        return Response(serializers.CustomerSerializer(customer).data)


# --- Orders ----------------------------------------------------------------------------------


@extend_schema(tags=["orders"])
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Filespace orders. POST honours `Idempotency-Key`; MSP keys approve and reject."""

    serializer_class = serializers.OrderSerializer
    filter_class = filters.OrderFilter

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [HasApiKey(), IsMspKey()]
        return super().get_permissions()

    def visible(self):
        return selectors.orders_visible(key=self.key)

    def filtered(self, queryset):
        params = self.params()
        for field in ("customer", "plan", "state"):
            if field in params:
                queryset = queryset.filter(**{f"{field}": params[field]})
        if "placed_after" in params:
            queryset = queryset.filter(placed_at__gte=params["placed_after"])
        if "placed_before" in params:
            queryset = queryset.filter(placed_at__lt=params["placed_before"])
        return queryset

    @extend_schema(parameters=[filters.OrderFilter])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _customer_for_order(self, requested_id: int | None):
        if not self.key.is_msp:
            if requested_id not in (None, self.key.customer_id):
                raise DjangoValidationError(
                    {"customer": "A customer key orders for its own organisation; leave this out."}
                )
            return self.key.customer
        if requested_id is None:
            raise DjangoValidationError({"customer": "MSP keys say which customer is ordering."})
        customer = selectors.customers_visible(key=self.key).filter(pk=requested_id).first()
        if customer is None:
            raise DjangoValidationError({"customer": f"There is no customer {requested_id}."})
        return customer

    @extend_schema(
        request=serializers.OrderCreateSerializer,
        responses={201: serializers.OrderSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Any unique string up to 60 characters. A retry with the same key "
                "and body places no second order and returns the first answer.",
            )
        ],
    )
    def create(self, request):
        idempotency_key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if len(idempotency_key) > IDEMPOTENCY_KEY_MAX or not idempotency_key.isprintable():
            return error_response(
                status_code=400,
                code="validation_error",
                message=f"The {IDEMPOTENCY_HEADER} header must be 1 to 60 printable characters.",
                fields={IDEMPOTENCY_HEADER: ["Use 1 to 60 printable characters."]},
            )
        form = serializers.OrderCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        customer = self._customer_for_order(data.pop("customer", None))
        plan = Plan.objects.filter(pk=data.pop("plan")).first()
        if plan is None:
            raise DjangoValidationError({"plan": "There is no such plan."})
        endpoint = "orders.create"
        fingerprint = services.request_hash({"plan": plan.pk, **data})
        if idempotency_key:
            stored = services.idempotent_response_find(
                customer=customer, endpoint=endpoint, key=idempotency_key
            )
            if stored is not None:
                return self._replay(stored, fingerprint)
        order = ordering.order_place(
            customer=customer,
            plan=plan,
            by=self.principal(),
            idempotency_key=f"api:{idempotency_key or uuid.uuid4().hex}",
            **data,
        )
        body = serializers.OrderSerializer(order).data
        if not idempotency_key:
            return Response(body, status=201)
        stored = services.idempotent_response_store(
            customer=customer,
            endpoint=endpoint,
            key=idempotency_key,
            fingerprint=fingerprint,
            status_code=201,
            body=body,
        )
        return self._replay(stored, fingerprint, replayed=False)

    def _replay(self, stored, fingerprint: str, replayed: bool = True) -> Response:
        if stored.request_hash != fingerprint:
            return error_response(
                status_code=422,
                code="idempotency_key_reused",
                message="This Idempotency-Key was already used for a different request; "
                "use a new key for a new order.",
            )
        response = Response(json.loads(stored.body), status=stored.status_code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(
        request=serializers.ReasonSerializer, responses={200: serializers.OrderSerializer}
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve an order awaiting approval; provisioning starts after commit."""
        order = self.get_object()
        form = serializers.ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            order = ordering.order_approve(order=order, by=self.principal(), **form.validated_data)
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        return Response(serializers.OrderSerializer(self.visible().get(pk=order.pk)).data)

    @extend_schema(
        request=serializers.RequiredReasonSerializer, responses={200: serializers.OrderSerializer}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject an order awaiting approval, with a reason the customer will read."""
        order = self.get_object()
        form = serializers.RequiredReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            order = order_services.order_reject(
                order=order, by=self.principal(), **form.validated_data
            )
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        return Response(serializers.OrderSerializer(self.visible().get(pk=order.pk)).data)


# --- Filespaces ------------------------------------------------------------------------------


@extend_schema(tags=["filespaces"])
class FilespaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Filespaces with their provisioning timeline, usage, and deletion."""

    filter_class = filters.FilespaceFilter

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.FilespaceDetailSerializer
        if self.action == "samples":
            return serializers.UsageSampleSerializer
        if self.action == "daily":
            return serializers.DailyUsageSerializer
        return serializers.FilespaceSerializer

    def visible(self):
        return selectors.filespaces_visible(key=self.key)

    def filtered(self, queryset):
        params = self.params()
        for field in ("customer", "plan", "state"):
            if field in params:
                queryset = queryset.filter(**{field: params[field]})
        if "name" in params:
            queryset = queryset.filter(remote_name=params["name"])
        if self.action == "list" and "state" not in params:
            queryset = queryset.exclude(state="deleted")
        return queryset

    @extend_schema(parameters=[filters.FilespaceFilter])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={202: serializers.FilespaceSerializer},
        description="Start deleting the filespace at LucidLink; poll it until `deleted`.",
    )
    def destroy(self, request, pk=None):
        filespace = self.get_object()
        try:
            filespace = provisioning_services.filespace_delete(
                filespace=filespace, by=self.principal()
            )
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        return Response(serializers.FilespaceSerializer(filespace).data, status=202)

    @extend_schema(
        request=serializers.PlanChangeRequestSerializer,
        responses={200: serializers.PlanChangeSerializer, 202: serializers.PlanChangeSerializer},
        description=(
            "Move the filespace to another plan that fits it (same storage owner and provider, "
            "its region allowed). 200: applied now, billing splits the month here; 202: the plan "
            "needs staff approval and the change waits (a customer key only)."
        ),
    )
    @action(detail=True, methods=["post"], url_path="plan-change")
    def plan_change(self, request, pk=None):
        filespace = self.get_object()
        form = serializers.PlanChangeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        plan = Plan.objects.filter(pk=form.validated_data["plan"], is_active=True).first()
        if plan is None:
            raise DjangoValidationError({"plan": "No plan on offer has this id."})
        try:
            change = billing_services.filespace_plan_change(
                filespace=filespace, plan=plan, by=self.principal()
            )
        except DjangoValidationError as exc:
            raise _conflict_on_state(exc) from None
        status = 202 if change.state == PlanChange.State.PENDING else 200
        return Response(serializers.PlanChangeSerializer(change).data, status=status)

    def _usage_page(self, queryset):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        parameters=[filters.SampleFilter, *PAGE_PARAMETERS],
        responses=serializers.UsageSampleSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="usage/samples")
    def samples(self, request, pk=None):
        """Raw usage samples of this filespace, one per sampling slot."""
        filespace = self.get_object()
        params = filters.parse(filters.SampleFilter, request)
        samples = selectors.samples_for(filespace=filespace)
        if "start" in params:
            samples = samples.filter(slot__gte=params["start"])
        if "end" in params:
            samples = samples.filter(slot__lt=params["end"])
        return self._usage_page(samples)

    @extend_schema(
        parameters=[filters.DailyFilter, *PAGE_PARAMETERS],
        responses=serializers.DailyUsageSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="usage/daily")
    def daily(self, request, pk=None):
        """Daily rollups of this filespace's usage (UTC days)."""
        filespace = self.get_object()
        params = filters.parse(filters.DailyFilter, request)
        days = selectors.daily_usage_for(filespace=filespace)
        if "start" in params:
            days = days.filter(day__gte=params["start"])
        if "end" in params:
            days = days.filter(day__lt=params["end"])
        return self._usage_page(days)


# --- Invoices --------------------------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else str(data).encode()


@extend_schema(tags=["invoices"])
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Invoices and credit notes (customer keys: finalized documents only)."""

    filter_class = filters.InvoiceFilter

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.InvoiceDetailSerializer
        return serializers.InvoiceSerializer

    def visible(self):
        queryset = selectors.invoices_visible(key=self.key)
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("lines")
        return queryset

    def filtered(self, queryset):
        params = self.params()
        for field in ("customer", "status", "kind"):
            if field in params:
                queryset = queryset.filter(**{field: params[field]})
        if "period" in params:
            queryset = queryset.filter(period_start=params["period"])
        return queryset

    @extend_schema(parameters=[filters.InvoiceFilter])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The invoice as CSV.")
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[CSVRenderer, JSONRenderer])
    def csv(self, request, pk=None):
        """The invoice's lines as CSV, the same file the portal offers."""
        invoice = self.get_object()
        return invoice_csv_response(invoice, invoice_lines(invoice=invoice))


# --- Audit -----------------------------------------------------------------------------------


@extend_schema(tags=["audit"], parameters=[filters.AuditFilter])
class AuditEntryViewSet(mixins.ListModelMixin, ApiViewSet):
    """The audit log: who changed what, newest first."""

    serializer_class = serializers.AuditEntrySerializer
    filter_class = filters.AuditFilter

    def visible(self):
        return selectors.audit_visible(key=self.key)

    def filtered(self, queryset):
        params = self.params()
        if "customer" in params:
            queryset = queryset.filter(customer_id=params["customer"])
        if "action" in params:
            queryset = queryset.filter(action__startswith=params["action"])
        if "since" in params:
            queryset = queryset.filter(created_at__gte=params["since"])
        return queryset
