"""Customers never reach each other's objects, and roles are enforced.

The first test walks every URL pattern of the project that takes a parameter. Each one must be
listed in COVERED (with how to build another customer's object for it) or in EXEMPT (with the
reason it holds no customer object), so a new URL fails here until someone decides which.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.customers.models import Invitation, Membership

pytestmark = pytest.mark.django_db


def _walk(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            ns = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            yield from _walk(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern):
            takes_parameter = bool(getattr(pattern.pattern, "converters", None)) or bool(
                pattern.pattern.regex.groups
            )
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, takes_parameter


def _parameterised_url_names() -> set[str]:
    return {name for name, takes in _walk(get_resolver().url_patterns) if takes}


def _fs(b, filespace_factory):
    return [filespace_factory(customer=b.customer, state="provisioned").pk]


def _order(b, filespace_factory):
    return [filespace_factory(customer=b.customer, state="provisioned").order_id]


def _invitation(b, filespace_factory=None):
    invitation = Invitation.objects.create(
        customer=b.customer,
        email="x@example.com",
        token_hash="f" * 64,
        invited_by=b.user,
        expires_at="2999-01-01T00:00:00Z",
    )
    return [invitation.pk]


def _membership(b, filespace_factory):
    return [b.pk]


def _invoice_and_line(b, filespace_factory):
    from datetime import date
    from decimal import Decimal

    from django.utils import timezone

    from billing.models import Invoice, InvoiceLine

    month = Invoice.objects.filter(customer=b.customer).count() + 1
    invoice = Invoice.objects.create(
        customer=b.customer, period_start=date(2026, month, 1), currency="USD"
    )
    line = InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        kind=InvoiceLine.Kind.ADJUSTMENT,
        description="Test line",
        amount=Decimal("1.00"),
    )
    # Finalized in one UPDATE, as the model refuses to change lines of a finalized invoice.
    Invoice.objects.filter(pk=invoice.pk).update(
        status=Invoice.Status.FINALIZED,
        number=f"T-{b.customer.pk}-{month}",
        finalized_at=timezone.now(),
    )
    return [invoice.pk, line.pk]


def _invoice(b, filespace_factory):
    return _invoice_and_line(b, filespace_factory)[:1]


def _payment(b, filespace_factory):
    from billing.models import Invoice
    from billing.payments.models import Payment

    invoice = Invoice.objects.get(pk=_invoice(b, filespace_factory)[0])
    payment = Payment.objects.create(
        customer=b.customer, invoice=invoice, kind=Payment.Kind.CHARGE, amount=invoice.total or 1,
        currency=invoice.currency, state=Payment.State.ACTION_NEEDED,
        idempotency_key=f"t-{invoice.pk}",
    )  # fmt: skip
    return [payment.pk]


def _fs_user(b, filespace_factory):
    from provisioning.managed.models import FilespaceUser

    filespace = filespace_factory(customer=b.customer, state="active")
    return [FilespaceUser.objects.create(filespace=filespace, name="b-user").pk]


def _fs_schedule(b, filespace_factory):
    from provisioning.managed.models import SnapshotSchedule

    filespace = filespace_factory(customer=b.customer, state="active")
    return [
        SnapshotSchedule.objects.create(
            filespace=filespace, name="b", interval="1d", retention=1
        ).pk
    ]


def _apikey(b, filespace_factory):
    from portal.apikeys.services import apikey_create

    key, _raw = apikey_create(name="B's key", created_by=b.user, customer=b.customer)
    return [key.pk]


def _webhook(b, filespace_factory):
    from portal.webhooks.models import Subscription

    subscription = Subscription.objects.create(
        customer=b.customer, url="https://hooks.example.com/b", event_types=[], created_by=b.user
    )
    return [subscription.pk]


# url name -> (HTTP method the view accepts, builder of the URL args for customer B's object)
COVERED = {
    "filespaces:detail": ("get", _fs),
    "filespaces:progress": ("get", _fs),
    "filespaces:script_sh": ("get", _fs),
    "filespaces:script_ps1": ("get", _fs),
    "filespaces:delete": ("post", _fs),
    "filespaces:change_plan": ("post", _fs),
    "filespaces:own_user_create": ("post", _fs),
    "filespaces:self_initialize": ("post", _fs),
    "filespaces:check_status": ("post", _fs),
    "filespaces:secret": ("get", _fs),
    "filespaces:user_reset_password": ("post", _fs_user),
    "orders:cancel": ("post", _order),
    "orders:detail": ("get", _order),
    "customers:invitation_revoke": ("post", _invitation),
    "customers:member_remove": ("post", _membership),
    "customers:member_role": ("post", _membership),
    "billing:invoice_detail": ("get", _invoice),
    "billing:invoice_csv": ("get", _invoice),
    "billing:invoice_pdf": ("get", _invoice),
    "billing:line_detail": ("get", _invoice_and_line),
    "payments:payment": ("get", _payment),
    "payments:invoice_pay": ("post", _invoice),
    "apikeys:customer_key_revoke": ("post", _apikey),
    "apikeys:customer_webhook_delete": ("post", _webhook),
    # Managed operations (tests/managed/test_pages.py checks every role and method too).
    "filespaces:manage": ("get", _fs),
    "filespaces:initialize": ("post", _fs),
    "filespaces:user_create": ("post", _fs),
    "filespaces:user_delete": ("post", _fs_user),
    "filespaces:snapshot_create": ("post", _fs),
    "filespaces:snapshot_delete": ("post", _fs),
    "filespaces:schedule_create": ("post", _fs),
    "filespaces:schedule_delete": ("post", _fs_schedule),
}

EXEMPT = {
    "orders:new": "takes a public plan slug; the customer is the signed-in one",
    "orders:review": "takes a draft key that only exists in the person's own session",
    "plans:detail": "plans are the public catalog",
    "customers:invitation_accept": "takes a secret token; acceptance checks the invited email",
}
EXEMPT_PREFIXES = {
    "admin:": "staff only, behind MFA (tests/accounts/test_staff_mfa.py)",
    "account_": "allauth's own keys and tokens for the signed-in or anonymous person",
    "mfa_": "allauth MFA pages of the signed-in person",
    "billing:staff_": "MSP staff pages across customers, behind the staff MFA guard",
    "payments:staff_": "MSP staff payment pages across customers, behind the staff MFA guard",
    "staff:": "MSP staff console under /staff/, behind the staff MFA guard",
    "apikeys:msp_": "MSP staff key and webhook pages under /api-keys/msp/, behind the MFA guard",
    "api:": "token-authenticated REST API; isolation proven in tests/api/test_isolation.py",
}


def _exempt(name: str) -> bool:
    return name in EXEMPT or any(name.startswith(prefix) for prefix in EXEMPT_PREFIXES)


def test_every_url_that_takes_an_id_is_covered_or_exempted_with_a_reason():
    missing = sorted(
        name for name in _parameterised_url_names() if name not in COVERED and not _exempt(name)
    )
    assert not missing, (
        f"URLs taking a parameter with no tenant-isolation coverage: {missing}. "
        "Add them to COVERED in tests/web/test_tenant_isolation.py (or to EXEMPT, with a reason)."
    )
    stale = sorted(set(COVERED) - _parameterised_url_names())
    assert not stale, f"COVERED lists URLs that no longer exist: {stale}"


@pytest.mark.parametrize("name", sorted(COVERED))
def test_a_member_of_one_customer_gets_404_for_another_customers_object(
    client, member_factory, filespace_factory, name
):
    a = member_factory(role="owner")
    b = member_factory(role="owner")
    method, build = COVERED[name]
    args = build(b, filespace_factory)
    client.force_login(a.user)
    response = getattr(client, method)(
        reverse(name, args=args), {"role": "member"} if method == "post" else None
    )
    assert response.status_code == 404
    # Nothing of B's changed.
    assert Membership.objects.get(pk=b.pk).role == "owner"
    assert not Invitation.objects.filter(customer=b.customer, revoked_at__isnull=False).exists()
    from portal.apikeys.models import ApiKey
    from portal.webhooks.models import Subscription

    assert not ApiKey.objects.filter(customer=b.customer, revoked_at__isnull=False).exists()
    if name == "apikeys:customer_webhook_delete":
        assert Subscription.objects.filter(customer=b.customer).exists()


def test_the_same_urls_work_for_the_objects_own_customer(client, member_factory, filespace_factory):
    """The 404s above come from scoping, not from a broken view."""
    b = member_factory(role="owner")
    client.force_login(b.user)
    for name, (method, build) in COVERED.items():
        if method != "get":
            continue
        response = client.get(reverse(name, args=build(b, filespace_factory)))
        assert response.status_code in (200, 302), name


MANAGER_ONLY = [
    ("post", "customers:invite", lambda m: [], {"email": "n@example.com", "role": "member"}),
    ("post", "customers:invitation_revoke", lambda m: _invitation(m), {}),
    ("post", "customers:member_remove", lambda m: [m.pk], {}),
    ("post", "customers:member_role", lambda m: [m.pk], {"role": "owner"}),
    ("get", "orders:new", lambda m: [m.plan.slug], None),
    (
        "post",
        "orders:new",
        lambda m: [m.plan.slug],
        {"name": "sneaky", "provider": "IBM", "region": "us-east"},
    ),
    ("get", "orders:check_name", lambda m: [], {"name": "abc"}),
    ("post", "orders:place", lambda m: [], {"idempotency_key": "0" * 32}),
]


@pytest.mark.parametrize("role", ["member", "billing"])
@pytest.mark.parametrize(("method", "name", "args", "data"), MANAGER_ONLY)
def test_members_and_billing_cannot_order_invite_or_remove(
    client, member_factory, plan_factory, role, method, name, args, data
):
    member = member_factory(role=role)
    member.plan = plan_factory()
    client.force_login(member.user)
    response = getattr(client, method)(reverse(name, args=args(member)), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    page = client.get(response["Location"]).content.decode()
    assert "Only owners and admins" in page
    assert Membership.objects.get(pk=member.pk).role == role
    assert Membership.objects.filter(customer=member.customer).count() == 1
    assert not Invitation.objects.filter(email="n@example.com").exists()
    from portal.orders.models import Order

    assert not Order.objects.exists()


@pytest.mark.parametrize("role", ["member", "billing"])
def test_members_and_billing_cannot_delete_filespaces_or_withdraw_orders(
    client, member_factory, filespace_factory, plan_factory, role
):
    from provisioning.services.ordering import order_place

    member = member_factory(role=role)
    filespace = filespace_factory(customer=member.customer, state="active")
    waiting = order_place(
        customer=member.customer,
        plan=plan_factory(requires_approval=True),
        name="waiting",
        provider="IBM",
        region="us-east",
        idempotency_key="q" * 32,
    )
    client.force_login(member.user)
    for url, data in (
        (reverse("filespaces:delete", args=[filespace.pk]), {"confirm": filespace.remote_name}),
        (reverse("orders:cancel", args=[waiting.pk]), {}),
    ):
        response = client.post(url, data)
        assert response.status_code == 302
        assert response["Location"] == reverse("dashboard")
    filespace.refresh_from_db()
    waiting.refresh_from_db()
    assert (filespace.state, waiting.state) == ("active", "awaiting_approval")


def test_a_role_refusal_over_htmx_is_a_403(client, member_factory):
    member = member_factory(role="member")
    client.force_login(member.user)
    response = client.get(reverse("orders:check_name"), {"name": "abc"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403


def test_only_billing_roles_see_usage_and_cost(
    client, member_factory, filespace_factory, customer_factory
):
    customer = customer_factory()
    filespace_factory(customer=customer)
    for role, sees in (("member", False), ("billing", True), ("owner", True)):
        member = member_factory(role=role, customer=customer)
        client.force_login(member.user)
        page = client.get(reverse("dashboard")).content.decode()
        assert ("Usage not yet collected" in page) is sees, role


def test_signed_out_visitors_are_sent_to_login_from_customer_pages(client, filespace_factory):
    filespace = filespace_factory()
    for url in (reverse("dashboard"), reverse("filespaces:detail", args=[filespace.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
