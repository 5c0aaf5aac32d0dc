"""Creating, revoking and checking API keys."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.apikeys.models import ApiKey
from portal.customers.lifecycle import customer_ensure_manageable
from portal.customers.models import MANAGER_ROLES, Customer, Membership

KEY_PREFIX = "fsp_"
# Writing last_used_at on every request would turn each read into a write; once a minute is
# precise enough for "when was this key last used".
LAST_USED_PRECISION = timedelta(seconds=60)


def hash_key(raw: str) -> str:
    # The key carries 256 random bits, so a fast hash is enough: nothing can be guessed offline.
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says where it is used."})
    if len(name) > 100:
        raise ValidationError({"name": "Keep the name to 100 characters or fewer."})
    return name


@action("apikey.create", audit_refusals=True)
@transaction.atomic
def apikey_create(*, name: str, created_by, customer: Customer | None = None) -> tuple[ApiKey, str]:
    """Create a key; return the row and the key itself, which is never shown again.

    MSP keys (no customer) need an active staff member; customer keys need an owner or admin of
    an active organisation. The creation is written to the audit log (never the key).
    """
    by = Principal.of(created_by)
    name = _check_name(name)
    if customer is None:
        guards.require_msp(by, what="create MSP keys")
    else:
        if by.role_in(customer) not in MANAGER_ROLES:
            raise Refused(
                "Only owners and admins can create keys for their organisation.",
                code=Code.FORBIDDEN,
            )
        customer_ensure_manageable(customer=customer)
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        customer=customer,
        prefix=prefix,
        key_hash=hash_key(raw),
        created_by=by.audit_user,
    )
    record(
        by=by,
        action="apikey.created",
        customer=customer,
        target=key,
        after={"name": key.name, "prefix": key.prefix, "kind": "msp" if key.is_msp else "customer"},
    )
    return key, raw


def _is_manager(*, customer_id: int, user) -> bool:
    if user is None or not user.is_active:
        return False
    return Membership.objects.filter(
        customer_id=customer_id, user=user, role__in=MANAGER_ROLES
    ).exists()


@action("apikey.revoke", audit_refusals=True)
@transaction.atomic
def apikey_revoke(*, apikey: ApiKey, acting_user) -> ApiKey:
    """Revoke a key at once; the next request made with it gets a 401. MSP staff revoke any
    key; owners and admins their organisation's (allowed while suspended: it reduces access)."""
    by = Principal.of(acting_user)
    if apikey.customer_id is None:
        guards.require_msp(by, what="revoke MSP keys")
    else:
        guards.require_role(by, apikey.customer, MANAGER_ROLES, what="revoke keys")
    revoked = ApiKey.objects.filter(pk=apikey.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by.audit_user
    )
    apikey.refresh_from_db()
    if revoked:
        record(
            by=by,
            action="apikey.revoked",
            customer=apikey.customer,
            target=apikey,
            before={"revoked": False},
            after={"revoked": True},
        )
    return apikey


def apikey_authenticate(*, raw: str) -> ApiKey | None:
    """The live key this bearer string belongs to, or None; records when it was last used.

    An MSP key stops working when its creator is no longer active staff; a customer key stops
    working when its creator is no longer an owner or admin there, or the organisation is
    terminated.
    """
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    digest = hash_key(raw)
    key = (
        ApiKey.objects.select_related("customer", "created_by")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.is_msp:
        creator = key.created_by
        if creator is None or not (creator.is_active and creator.is_staff):
            return None
    elif key.customer.status == Customer.Status.TERMINATED or not _is_manager(
        customer_id=key.customer_id, user=key.created_by
    ):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
