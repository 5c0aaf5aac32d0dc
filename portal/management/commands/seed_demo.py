"""Load demo data for `make run`: an MSP staff account and a few plans. Safe to run again."""

import os
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.plans.models import BillingUnit, Plan, StorageOwner, SubscriptionType

DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "demo-staff-passphrase-2026"  # noqa: S105 - printed demo credential
# A fixed TOTP secret so the demo staff login works with any authenticator app; demo only.
DEMO_STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPDEMOSTAFFTOTP234"  # noqa: S105 - printed demo credential
DEMO_CUSTOMER_NAME = "Demo Media Ltd"
DEMO_OWNER_EMAIL = "owner@example.com"
DEMO_OWNER_PASSWORD = "demo-owner-passphrase-2026"  # noqa: S105 - printed demo credential

DEMO_PLANS = [
    {
        "slug": "starter-wasabi",
        "name": "Starter",
        "description": "Wasabi storage owned and run by LucidLink, for small teams.",
        "storage_owner": StorageOwner.LUCIDLINK,
        "subscription_type": SubscriptionType.BASIC,
        "provider": "Wasabi",
        "allowed_regions": ["us-east-1", "us-west-1", "eu-central-1", "ap-southeast-2"],
        "price_per_unit_month": Decimal("0.015000"),
        "billing_unit": BillingUnit.GB,
        "included_units": Decimal("100"),
        "minimum_monthly_charge": Decimal("9.00"),
    },
    {
        "slug": "teams-ibm",
        "name": "Teams",
        "description": "IBM Cloud Object Storage owned by LucidLink, for production media.",
        "storage_owner": StorageOwner.LUCIDLINK,
        "subscription_type": SubscriptionType.TEAMS,
        "provider": "IBM",
        "allowed_regions": ["us-south", "us-east", "eu-gb", "eu-de"],
        "price_per_unit_month": Decimal("0.025000"),
        "billing_unit": BillingUnit.GIB,
        "included_units": Decimal("500"),
        "minimum_monthly_charge": Decimal("49.00"),
    },
    {
        "slug": "byo-aws",
        "name": "Bring your own AWS bucket",
        "description": "Your own S3 bucket; you pay AWS for storage, we manage the filespace.",
        "storage_owner": StorageOwner.CUSTOMER,
        "subscription_type": SubscriptionType.CUSTOM,
        "provider": "AWS",
        "allowed_regions": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"],
        "price_per_unit_month": Decimal("0.008000"),
        "billing_unit": BillingUnit.GB,
        "included_units": Decimal("0"),
        "minimum_monthly_charge": Decimal("25.00"),
        "requires_approval": True,
    },
]


class Command(BaseCommand):
    help = "Create the demo MSP staff account and plans (existing rows are left as they are)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load the demo accounts even with DEBUG=false (their credentials are public).",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            # The demo staff login, password and TOTP secret are printed in the README: loading
            # them into a real deployment would publish a superuser's credentials.
            raise CommandError(
                "seed_demo creates accounts with published credentials; it runs only with "
                "DEBUG=true (or --allow-production on a throwaway demo site)."
            )
        created_plans = sum(self._ensure_plan(fields) for fields in DEMO_PLANS)
        staff_password = os.environ.get("DEMO_STAFF_PASSWORD", DEMO_STAFF_PASSWORD)
        staff_created = self._ensure_staff(staff_password)
        self.stdout.write(f"Demo plans: {len(DEMO_PLANS)} ({created_plans} new)")
        self.stdout.write(f"MSP staff login: {DEMO_STAFF_EMAIL}")
        if staff_created:
            self.stdout.write(f"MSP staff password: {staff_password}")
        else:
            self.stdout.write("MSP staff password: unchanged (set on first run; see README)")
        self._ensure_staff_mfa()
        self.stdout.write(
            f"MSP staff TOTP secret (add it to an authenticator app): {DEMO_STAFF_TOTP_SECRET}"
        )
        self.stdout.write(
            f"  otpauth://totp/{DEMO_STAFF_EMAIL}?secret={DEMO_STAFF_TOTP_SECRET}&issuer=Portal%20demo"
        )
        owner_password = os.environ.get("DEMO_OWNER_PASSWORD", DEMO_OWNER_PASSWORD)
        owner_created = self._ensure_customer_owner(owner_password)
        self.stdout.write(f"Demo customer: {DEMO_CUSTOMER_NAME}, owner login: {DEMO_OWNER_EMAIL}")
        if owner_created:
            self.stdout.write(f"Demo owner password: {owner_password}")
        else:
            self.stdout.write("Demo owner password: unchanged (set on first run)")
        self._ensure_demo_card()

    def _ensure_demo_card(self) -> None:
        """Give the demo customer Stripe's test Visa, so it can order at once (docs/payments.md)."""
        from billing.payments import services, stripe_client
        from billing.payments.selectors import account_find
        from portal.actions import Principal
        from portal.customers.models import Membership

        membership = Membership.objects.filter(user__username=DEMO_OWNER_EMAIL).first()
        if membership is None or not stripe_client.is_configured():
            self.stdout.write("Demo card: none (no Stripe key configured)")
            return
        account = account_find(customer=membership.customer)
        if account is not None and account.has_card:
            self.stdout.write(f"Demo card: {account.card_label}")
            return
        try:
            setup = services.card_setup_start(customer=membership.customer, by=Principal.system())
            stripe_client.setup_intent_confirm_test_card(setup.id)
            account = services.payment_method_save(
                customer=membership.customer, by=Principal.system(), setup_intent_id=setup.id
            )
        except stripe_client.StripeError as exc:
            self.stdout.write(f"Demo card: not saved ({exc.message}); add one on the card page")
            return
        self.stdout.write(f"Demo card: {account.card_label}")

    def _ensure_plan(self, fields: dict) -> bool:
        fields = dict(fields)
        _, created = Plan.objects.get_or_create(slug=fields.pop("slug"), defaults=fields)
        return created

    def _ensure_staff(self, password: str) -> bool:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_STAFF_EMAIL,
            defaults={"email": DEMO_STAFF_EMAIL, "is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        return created

    def _verified(self, user) -> None:
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )

    def _ensure_staff_mfa(self) -> None:
        """Staff must use TOTP; the demo staff user gets the printed, fixed secret."""
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        user = get_user_model().objects.get(username=DEMO_STAFF_EMAIL)
        self._verified(user)
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, DEMO_STAFF_TOTP_SECRET)

    def _ensure_customer_owner(self, password: str) -> bool:
        from portal.customers.models import Membership
        from portal.customers.services import customer_create

        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_OWNER_EMAIL, defaults={"email": DEMO_OWNER_EMAIL}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        self._verified(user)
        if not Membership.objects.filter(user=user).exists():
            customer_create(
                user=user, name=DEMO_CUSTOMER_NAME, billing_email=DEMO_OWNER_EMAIL, country="GB"
            )
        return created
