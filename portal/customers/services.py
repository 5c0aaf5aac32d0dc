"""Writes for organisations, memberships and invitations."""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_countries import countries

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.audit.display import principal_shown_to_customer
from portal.customers.lifecycle import customer_ensure_manageable
from portal.customers.models import MANAGER_ROLES, Customer, Invitation, Membership, Role
from portal.security.text import single_line

logger = logging.getLogger(__name__)

PREFIX_MAX = 20
INVITATIONS_PER_HOUR = 20


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unique_prefix(name: str) -> str:
    base = Customer.prefix_candidate(name)
    taken = set(
        Customer.objects.filter(name_prefix__startswith=base).values_list("name_prefix", flat=True)
    )
    if base not in taken:
        return base
    for number in range(2, 10_000):
        candidate = f"{base[: PREFIX_MAX - len(str(number))]}{number}"
        if candidate not in taken:
            return candidate
    return f"{base[:8]}{secrets.token_hex(4)}"


def customer_insert(*, name: str, billing_email: str, country: str, created_by) -> Customer:
    """Insert an organisation with a derived, unique name prefix (no members yet)."""
    # The name reaches email subjects and CSV files: no CR/LF or other control characters.
    name = single_line(name)
    if not name:
        raise ValidationError({"name": "Enter the company's name."})
    country = (country or "").strip().upper()
    if country not in countries:
        raise ValidationError(
            {"country": "Choose a country: an ISO 3166-1 two-letter code such as GB or US."}
        )
    for _attempt in range(5):
        try:
            # A savepoint, so a prefix taken between the check and the insert can be retried.
            with transaction.atomic():
                return Customer.objects.create(
                    name=name,
                    name_prefix=_unique_prefix(name),
                    billing_email=billing_email,
                    country=country,
                    created_by=created_by,
                )
        except IntegrityError:
            continue
    raise ValidationError({"name": "Could not reserve a name prefix; please try again."})


def _ensure_below_organisation_cap(user: AbstractBaseUser) -> None:
    """One sign-up cannot mint organisations without end (each can send invitations)."""
    if user.is_staff:
        return
    limit = settings.ORGANISATIONS_PER_USER
    if Customer.objects.filter(created_by=user).count() >= limit:
        raise ValidationError(
            {"name": f"You can create at most {limit} organisations; contact support for more."}
        )


@action("customer.create")
@transaction.atomic
def customer_create(
    *, user: AbstractBaseUser, name: str, billing_email: str, country: str
) -> Customer:
    """A person signing up: create an organisation with `user` as its owner."""
    _ensure_below_organisation_cap(user)
    customer = customer_insert(
        name=name, billing_email=billing_email, country=country, created_by=user
    )
    Membership.objects.create(customer=customer, user=user, role=Role.OWNER)
    record(
        by=Principal.for_user(user, mfa=False),
        action="customer.created",
        customer=customer,
        target=customer,
        after={
            "name": customer.name,
            "name_prefix": customer.name_prefix,
            "country": customer.country.code,
        },
    )
    return customer


@action("customer.create_for_msp", audit_refusals=True)
def customer_create_for_msp(*, name: str, billing_email: str, country: str, by) -> Customer:
    """MSP: create an organisation with no members yet (its owner is invited afterwards).

    The name prefix comes from the same derivation the sign-up flow uses.
    """
    by = Principal.of(by)
    guards.require_msp(by, what="create customers")
    with transaction.atomic():
        customer = customer_insert(
            name=name, billing_email=billing_email, country=country, created_by=by.audit_user
        )
        record(
            by=by,
            action="customer.created",
            customer=customer,
            target=customer,
            after={"name": customer.name, "name_prefix": customer.name_prefix},
            note="Created by the MSP.",
        )
    return customer


@action("invitation.create", audit_refusals=True)
@transaction.atomic
def invitation_create(
    *, customer: Customer, email: str, role: str, invited_by: AbstractBaseUser
) -> tuple[Invitation, str]:
    """Owners and admins: invite `email` to `customer`; returns the invitation and the one-time
    token for the link (active customers only).

    An open invitation to the same address is revoked and replaced, so a resend gives a fresh
    link and the old one stops working.
    """
    by = Principal.of(invited_by)
    guards.require_role(by, customer, MANAGER_ROLES, what="invite people")
    email = email.strip().lower()
    customer_ensure_manageable(customer=customer)
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role."})
    if (
        role == Role.OWNER
        and not Membership.objects.filter(
            customer=customer, user=invited_by, role=Role.OWNER
        ).exists()
    ):
        raise ValidationError({"role": "Only an owner can invite another owner."})
    if Membership.objects.filter(customer=customer, user__email__iexact=email).exists():
        raise ValidationError({"email": "This person is already a member of your organisation."})
    now = timezone.now()
    _ensure_below_invitation_caps(customer=customer, invited_by=invited_by, now=now)
    Invitation.objects.filter(
        customer=customer, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        customer=customer,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    record(
        by=by,
        action="invitation.sent",
        customer=customer,
        target=invitation,
        after={"email": email, "role": role},
    )
    transaction.on_commit(lambda: _send_invitation(invitation=invitation, token=token))
    return invitation, token


def _ensure_below_invitation_caps(*, customer: Customer, invited_by, now) -> None:
    """The portal sends these emails in the MSP's name; caps keep it from being a spam relay.

    Counted per organisation and per person, so many organisations owned by one person do not
    multiply the allowance.
    """
    recent = Invitation.objects.filter(created_at__gte=now - timedelta(hours=1))
    if recent.filter(customer=customer).count() >= INVITATIONS_PER_HOUR:
        raise ValidationError(
            {"email": f"At most {INVITATIONS_PER_HOUR} invitations an hour; try again later."}
        )
    per_user = settings.INVITATIONS_PER_USER_PER_HOUR
    if recent.filter(invited_by=invited_by).count() >= per_user:
        raise ValidationError(
            {"email": f"You can send at most {per_user} invitations an hour; try again later."}
        )


def invitation_url(token: str) -> str:
    path = reverse("customers:invitation_accept", kwargs={"token": token})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _inviter_shown(user) -> str:
    """The inviter as the invitee reads it: MSP staff are "<MSP> staff", never an email."""
    if user is None:
        return ""
    by = Principal.for_user(user, mfa=False)
    return principal_shown_to_customer(side=by.side, label=by.label)


def _send_invitation(*, invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "url": invitation_url(token),
        "MSP_NAME": settings.MSP_NAME,
        "inviter": _inviter_shown(invitation.invited_by),
    }
    subject = single_line(
        f"[{settings.MSP_NAME}] You are invited to join {invitation.customer.name}"
    )
    body = render_to_string("customers/email/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])
    logger.info("Invitation %s sent for customer %s", invitation.pk, invitation.customer_id)


def invitation_find(*, token: str) -> Invitation | None:
    """The invitation a link's token belongs to, open or not (the caller explains why not)."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("customer").filter(token_hash=hash_token(token)).first()
    )


@action("invitation.accept")
@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Join the invitation's customer with its role; accepting twice is a no-op."""
    invitation = invitation_find(token=token)
    if invitation is None:
        raise ValidationError("This invitation link is not valid. Ask for a new one.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    existing = Membership.objects.filter(customer=invitation.customer, user=user).first()
    if invitation.accepted_at is not None:
        if invitation.accepted_by_id == user.pk and existing:
            return existing
        raise ValidationError("This invitation has already been used. Ask for a new one.")
    if invitation.revoked_at is not None:
        raise ValidationError("This invitation was withdrawn. Ask for a new one.")
    if invitation.is_expired():
        raise ValidationError("This invitation has expired. Ask for a new one.")
    customer_ensure_manageable(customer=invitation.customer)
    if (user.email or "").lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}. Sign in with that address to accept it."
        )
    if existing is None:
        existing = Membership.objects.create(
            customer=invitation.customer, user=user, role=invitation.role
        )
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), accepted_by=user)
    record(
        by=Principal.for_user(user, mfa=False),
        action="member.joined",
        customer=invitation.customer,
        target=existing,
        after={"email": user.email, "role": existing.role},
    )
    return existing


@action("invitation.revoke", audit_refusals=True)
@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by=None) -> None:
    """Owners and admins: withdraw an open invitation (allowed while suspended: it only reduces
    access). `by` is None only for old callers; they act as the system."""
    by = Principal.of(by)
    guards.require_role(by, invitation.customer, MANAGER_ROLES, what="withdraw invitations")
    moved = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if moved:
        record(
            by=by,
            action="invitation.revoked",
            customer=invitation.customer,
            target=invitation,
            before={"email": invitation.email},
        )


def _acting_membership(acting: Membership, customer: Customer) -> Membership:
    """The remover's membership, re-read: it must be of this customer and a manager's."""
    fresh = Membership.objects.filter(pk=acting.pk, customer=customer).first()
    if fresh is None or fresh.role not in MANAGER_ROLES:
        raise Refused("Your role does not allow you to change the team.", code=Code.FORBIDDEN)
    return fresh


@action("membership.remove", audit_refusals=True)
@transaction.atomic
def membership_remove(*, membership: Membership, acting: Membership) -> None:
    """Owners and admins: remove someone; the last owner cannot go, and only owners remove
    owners (active customers only)."""
    acting = _acting_membership(acting, membership.customer)
    customer_ensure_manageable(customer=membership.customer)
    if membership.role == Role.OWNER and acting.role != Role.OWNER:
        raise Refused("Only an owner can remove another owner.", code=Code.FORBIDDEN)
    if membership.role == Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            customer_id=membership.customer_id, role=Role.OWNER
        )
        if len(owners) <= 1:
            raise ValidationError("An organisation needs at least one owner.")
    Membership.objects.filter(pk=membership.pk).delete()
    record(
        by=Principal.for_user(acting.user, mfa=False),
        action="member.removed",
        customer=membership.customer,
        target=membership.customer,
        before={"email": membership.user.email, "role": membership.role},
    )


@action("membership.change_role", audit_refusals=True)
@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, acting: Membership) -> Membership:
    """Owners and admins: change someone's role; only owners make or unmake owners."""
    acting = _acting_membership(acting, membership.customer)
    customer_ensure_manageable(customer=membership.customer)
    if role not in Role.values:
        raise ValidationError("Choose a role.")
    if Role.OWNER in (role, membership.role) and acting.role != Role.OWNER:
        raise Refused("Only an owner can make or unmake an owner.", code=Code.FORBIDDEN)
    if membership.role == Role.OWNER and role != Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            customer_id=membership.customer_id, role=Role.OWNER
        )
        if len(owners) <= 1:
            raise ValidationError("An organisation needs at least one owner.")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    if before != role:
        record(
            by=Principal.for_user(acting.user, mfa=False),
            action="member.role_changed",
            customer=membership.customer,
            target=membership,
            before={"role": before},
            after={"email": membership.user.email, "role": role},
        )
    return membership
