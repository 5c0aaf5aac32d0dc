"""The Django admin: every model registered and browsable, immutable rows read-only, secrets
never shown, and the approve/retry actions going through the audited services."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db

# Apps whose models this brief covers; API keys and webhooks belong to the API work.
COVERED_APPS = ["customers", "plans", "orders", "provisioning", "billing", "audit", "staff",
                "portal"]  # fmt: skip
SECRET_VALUES = ["AKIA-ACCESS-123", "very-secret-key-456", "root-password-789"]


@pytest.fixture
def admin_client(client, staff_factory):
    client.force_login(staff_factory("root@msp.example", is_superuser=True))
    return client


@pytest.fixture
def secret_filespace(filespace_factory):
    filespace = filespace_factory(state="error", root_password="root-password-789")
    order = filespace.order
    order.access_key = "AKIA-ACCESS-123"
    order.secret_key = "very-secret-key-456"
    order.save()
    return filespace


@pytest.mark.parametrize(
    "model",
    [m for label in COVERED_APPS for m in apps.get_app_config(label).get_models()],
    ids=lambda m: m._meta.label,
)
def test_every_model_is_registered_and_its_list_renders(admin_client, secret_filespace, model):
    assert admin.site.is_registered(model), f"{model._meta.label} is not in the admin"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert not any(secret in body for secret in SECRET_VALUES)


@pytest.mark.parametrize("model", [Order, Filespace], ids=lambda m: m._meta.label)
def test_a_change_page_never_shows_a_secret(admin_client, secret_filespace, model):
    obj = secret_filespace.order if model is Order else secret_filespace
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    body = admin_client.get(url).content.decode()
    assert obj.remote_name in body
    assert not any(secret in body for secret in SECRET_VALUES)


def test_the_invitation_page_never_shows_the_token_hash(admin_client, member_factory):
    from portal.customers.models import Invitation
    from portal.customers.services import invitation_create

    owner = member_factory(role="owner")
    invitation, _token = invitation_create(
        customer=owner.customer, email="new@example.com", role="member", invited_by=owner.user
    )
    invitation = Invitation.objects.get(pk=invitation.pk)
    url = reverse("admin:customers_invitation_change", args=[invitation.pk])
    body = admin_client.get(url).content.decode()
    assert "new@example.com" in body
    assert invitation.token_hash not in body


@pytest.mark.parametrize(
    "label",
    ["audit.AuditEntry", "provisioning.ProvisioningEvent", "billing.Invoice",
     "customers.CustomerTermination"],
)  # fmt: skip
def test_immutable_records_are_read_only_in_the_admin(rf, staff_factory, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    request = rf.get("/admin/")
    request.user = staff_factory("root@msp.example", is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_the_approve_action_approves_and_audits(
    admin_client, customer_factory, plan_factory, monkeypatch
):
    from provisioning.services.ordering import order_place

    monkeypatch.setattr("provisioning.tasks.create_filespace.delay", lambda *a: None)
    order = order_place(
        customer=customer_factory(),
        plan=plan_factory(requires_approval=True),
        name="media",
        provider="IBM",
        region="us-east",
        idempotency_key="k",
    )
    admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "approve", "_selected_action": [order.pk]},
    )
    assert Order.objects.get(pk=order.pk).state == Order.State.PROVISIONING
    assert AuditEntry.objects.filter(action="order.approved").count() == 1


def test_the_retry_action_retries_and_audits(admin_client, filespace_factory, monkeypatch):
    monkeypatch.setattr("provisioning.tasks.create_filespace.delay", lambda *a: None)
    filespace = filespace_factory(state="error")
    admin_client.post(
        reverse("admin:provisioning_filespace_changelist"),
        {"action": "retry", "_selected_action": [filespace.pk]},
    )
    assert Filespace.objects.get(pk=filespace.pk).state == Filespace.State.REQUESTED
    assert AuditEntry.objects.filter(action="filespace.retry").count() == 1


def test_the_suspend_action_suspends_and_audits(admin_client, customer_factory):
    customer = customer_factory()
    admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "suspend", "_selected_action": [customer.pk]},
    )
    customer.refresh_from_db()
    assert customer.status == "suspended"
    assert AuditEntry.objects.get(action="customer.suspended").customer == customer


def test_saving_a_plan_in_the_admin_is_audited(admin_client, plan_factory):
    plan = plan_factory(name="Teams", slug="teams")
    admin_client.post(
        reverse("admin:plans_plan_changelist"),
        {"action": "deactivate", "_selected_action": [plan.pk]},
    )
    plan.refresh_from_db()
    assert plan.is_active is False
    assert AuditEntry.objects.filter(action="plan.deactivated").count() == 1


def test_finalizing_an_invoice_in_the_admin_is_audited(admin_client, customer_factory):
    from decimal import Decimal

    from billing.models import Invoice, InvoiceLine

    customer = customer_factory()
    invoice = Invoice.objects.create(customer=customer, period_start="2026-06-01", currency="USD")
    InvoiceLine.objects.create(
        invoice=invoice, position=1, kind="adjustment", description="Setup", amount=Decimal("5")
    )
    admin_client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "finalize", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FINALIZED
    entry = AuditEntry.objects.get(action="invoice.finalized")
    assert entry.customer == customer
    assert entry.after["number"] == invoice.number


def test_resolving_a_billing_flag_in_the_admin_is_audited(admin_client, customer_factory):
    from billing.models import BillingFlag

    customer = customer_factory()
    flag = BillingFlag.objects.create(
        kind="below_cost", subject=f"customer:{customer.pk}", customer=customer,
        period_start="2026-06-01", message="Below cost",
    )  # fmt: skip
    for _ in range(2):
        admin_client.post(
            reverse("admin:billing_billingflag_changelist"),
            {"action": "resolve", "_selected_action": [flag.pk]},
        )
    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert AuditEntry.objects.filter(action="billing_flag.resolved", customer=customer).count() == 1
