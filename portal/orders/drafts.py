"""Order drafts: the validated order form waits in the session between the form and the review.

Bucket keys are encrypted with the portal's field key before they touch the session store, and
dropped once the order is placed (the order keeps its own encrypted copy).
"""

import uuid
from decimal import Decimal

from portal.customers.models import Customer
from portal.plans.models import Plan

DRAFTS_SESSION_KEY = "order_drafts"
MAX_DRAFTS = 5


def draft_save(request, *, customer: Customer, plan: Plan, data: dict) -> str:
    from portal import fields

    key = uuid.uuid4().hex
    draft = {
        "customer_id": customer.pk,
        "plan_id": plan.pk,
        "name": data["name"],
        "provider": data["provider"],
        "region": data["region"],
        "bucket": data.get("bucket", ""),
        "endpoint": data.get("endpoint", ""),
        "expected_units": str(data["expected_units"])
        if data.get("expected_units") is not None
        else "",
        "order_id": None,
    }
    for secret in ("access_key", "secret_key"):
        if data.get(secret):
            draft[secret] = fields.encrypt(data[secret])
    store = dict(request.session.get(DRAFTS_SESSION_KEY, {}))
    store[key] = draft
    # Keep the newest few; dicts keep insertion order, so the first keys are the oldest.
    while len(store) > MAX_DRAFTS:
        store.pop(next(iter(store)))
    request.session[DRAFTS_SESSION_KEY] = store
    return key


def draft_get(request, key: str, *, customer: Customer) -> dict | None:
    """The draft, if it belongs to the customer the person now acts for (they may have switched)."""
    draft = request.session.get(DRAFTS_SESSION_KEY, {}).get(key)
    if draft is None or draft.get("customer_id") != customer.pk:
        return None
    return draft


def draft_to_change(request, key: str, *, customer: Customer, plan: Plan) -> dict | None:
    """The unplaced draft of this plan that "Change" on the review leads back to, if any."""
    draft = draft_get(request, key, customer=customer) if key else None
    if draft is None or draft.get("order_id") or draft.get("plan_id") != plan.pk:
        return None
    return draft


def draft_initial(draft: dict) -> dict:
    """What the customer typed, to fill the form again (never the bucket keys)."""
    fields = ("name", "provider", "region", "bucket", "endpoint", "expected_units")
    return {field: draft.get(field) or "" for field in fields}


def draft_has_keys(draft: dict | None) -> bool:
    return bool(draft and draft.get("access_key") and draft.get("secret_key"))


def with_kept_keys(data, draft: dict):
    """The posted form, its empty key fields filled from the draft (decrypted, server side)."""
    from portal import fields

    data = data.copy()
    for secret in ("access_key", "secret_key"):
        if not data.get(secret) and draft.get(secret):
            data[secret] = fields.decrypt(draft[secret])
    return data


def draft_mark_placed(request, key: str, *, order_id: int) -> None:
    store = dict(request.session.get(DRAFTS_SESSION_KEY, {}))
    draft = dict(store.get(key, {}))
    draft.pop("access_key", None)
    draft.pop("secret_key", None)
    draft["order_id"] = order_id
    store[key] = draft
    request.session[DRAFTS_SESSION_KEY] = store


def draft_expected_units(draft: dict) -> Decimal | None:
    raw = draft.get("expected_units")
    return Decimal(raw) if raw else None
