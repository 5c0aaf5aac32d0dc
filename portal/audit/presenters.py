"""Audit entries told as sentences: "Olivia approved the order for acme-renders."

One place turns an entry into words, so the activity page, the staff audit log and any export
(API, CSV) read the same. An action without a sentence of its own still reads as words
("Filespace snapshot created"), never as a dotted code. The raw action stays on the entry for
filters and machines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from portal.audit.display import actor_shown_to_customer, actor_side_of
from portal.audit.models import AuditEntry

SYSTEM_LABEL = "The portal"


@dataclass(frozen=True)
class Told:
    """An audit entry in words: who did it, the sentence, its details as short lines, the note."""

    actor: str
    sentence: str
    details: tuple[str, ...]
    note: str


def actor_name(entry: AuditEntry, *, for_staff: bool) -> str:
    """Who acted, in a sentence: the system as the portal; to a customer, the MSP's people and
    keys as its staff (portal.audit.display decides that, for every surface)."""
    if actor_side_of(entry) == "system":
        return SYSTEM_LABEL
    if not for_staff:
        return actor_shown_to_customer(entry)
    return entry.actor_label


def _after(entry: AuditEntry, key: str, default: str = "") -> str:
    value = (entry.after or {}).get(key)
    return default if value in (None, "") else str(value)


def _before(entry: AuditEntry, key: str, default: str = "") -> str:
    value = (entry.before or {}).get(key)
    return default if value in (None, "") else str(value)


# An order's label is "Order 12 acme-renders (approved)"; a sentence wants "acme-renders".
_ORDER_LABEL = re.compile(r"^Order \d+ (?P<name>\S+)")


def _what(entry: AuditEntry) -> str:
    """What the entry is about, in the words a customer uses."""
    if entry.action.startswith("order."):
        if name := _after(entry, "remote_name"):
            return name
        if match := _ORDER_LABEL.match(entry.target_label):
            return match["name"]
    if entry.action.startswith(("invitation.", "member.")):
        return _after(entry, "email") or _before(entry, "email") or entry.target_label
    return entry.target_label


def _plain(text: str) -> Callable[[AuditEntry, str], str]:
    """A sentence with {who} and {what} filled in."""
    return lambda entry, who: text.format(who=who, what=_what(entry))


def _order_placed(entry: AuditEntry, who: str) -> str:
    where = " ".join(filter(None, [_after(entry, "provider"), _after(entry, "region")]))
    plan = _after(entry, "plan")
    details = ", ".join(filter(None, [plan, where]))
    suffix = f" ({details})" if details else ""
    if _after(entry, "state") == "awaiting_approval":
        return f"{who} ordered the filespace {_what(entry)}{suffix}; it waits for approval."
    return f"{who} ordered the filespace {_what(entry)}{suffix}."


def _invitation_sent(entry: AuditEntry, who: str) -> str:
    role = _after(entry, "role", "member")
    return f"{who} invited {_what(entry)} to join as {role}."


def _member_joined(entry: AuditEntry, who: str) -> str:
    return f"{who} joined the organisation as {_after(entry, 'role', 'member')}."


def _member_role(entry: AuditEntry, who: str) -> str:
    return (
        f"{who} changed {_what(entry)}'s role from {_before(entry, 'role', 'unknown')} "
        f"to {_after(entry, 'role', 'unknown')}."
    )


def _apikey_created(entry: AuditEntry, who: str) -> str:
    kind = "an MSP API key" if _after(entry, "kind") == "msp" else "an API key"
    return f"{who} created {kind} named “{_after(entry, 'name', entry.target_label)}”."


SENTENCES: dict[str, Callable[[AuditEntry, str], str]] = {
    "customer.created": _plain("{who} created the organisation {what}."),
    "customer.suspended": _plain("{who} suspended the account {what}."),
    "customer.resumed": _plain("{who} resumed the account {what}."),
    "customer.terminated": _plain("{who} terminated the account {what}."),
    "customer.termination_requested": _plain("{who} asked to terminate the account {what}."),
    "customer.termination_approved": _plain(
        "{who} approved the termination of the account {what}."
    ),
    "customer.termination_cancelled": _plain(
        "{who} cancelled the termination of the account {what}."
    ),
    "customer.termination_carried_out": _plain(
        "{who} deleted the filespaces of the terminated account {what}."
    ),
    "invitation.sent": _invitation_sent,
    "invitation.revoked": _plain("{who} withdrew the invitation to {what}."),
    "member.joined": _member_joined,
    "member.removed": _plain("{who} removed {what} from the organisation."),
    "member.role_changed": _member_role,
    "order.placed": _order_placed,
    "order.approved": _plain("{who} approved the order for {what}."),
    "order.rejected": _plain("{who} rejected the order for {what}."),
    "order.cancelled": _plain("{who} cancelled the order for {what}."),
    "filespace.retry": _plain("{who} retried creating the filespace {what}."),
    "filespace.force_failed": _plain("{who} marked the filespace {what} as failed."),
    "filespace.delete_requested": _plain("{who} asked for the filespace {what} to be deleted."),
    "filespace.init_requested": _plain("{who} asked the portal to initialize {what}."),
    "filespace.initialized": _plain("{who} initialized the filespace {what}."),
    "filespace.init_failed": _plain("{who} could not initialize the filespace {what}."),
    "webhook.replayed": _plain("{who} sent the webhook event {what} again."),
    "filespace.self_init_requested": _plain(
        "{who} chose to initialize the filespace {what} on their own computer."
    ),
    "filespace.user_password_reset": _plain("{who} set a new password for a user of {what}."),
    "filespace.user_password_reset_failed": _plain(
        "{who} could not set a new password for a user of {what}."
    ),
    "filespace.plan_changed": _plain("{who} moved the filespace {what} to another plan."),
    "filespace.plan_change_requested": _plain(
        "{who} asked to move the filespace {what} to another plan (waiting for approval)."
    ),
    "filespace.plan_change_rejected": _plain(
        "{who} rejected the move of the filespace {what} to another plan."
    ),
    "filespace.user_created": lambda e, who: (
        f"{who} added the filespace user {_after(e, 'name')} to {e.target_label}."
    ),
    "filespace.user_deleted": lambda e, who: (
        f"{who} removed the filespace user {_before(e, 'name')} from {e.target_label}."
    ),
    "filespace.user_create_failed": _plain("{who} could not add a filespace user to {what}."),
    "filespace.user_delete_failed": _plain("{who} could not remove a filespace user from {what}."),
    "filespace.snapshot_created": _plain("{who} took a snapshot of {what}."),
    "filespace.snapshot_deleted": _plain("{who} deleted a snapshot of {what}."),
    "filespace.snapshot_create_failed": _plain("{who} could not take a snapshot of {what}."),
    "filespace.snapshot_delete_failed": _plain("{who} could not delete a snapshot of {what}."),
    "filespace.snapshot_schedule_created": _plain("{who} scheduled snapshots of {what}."),
    "filespace.snapshot_schedule_deleted": _plain("{who} stopped scheduled snapshots of {what}."),
    "filespace.snapshot_schedule_create_failed": _plain(
        "{who} could not schedule snapshots of {what}."
    ),
    "filespace.snapshot_schedule_delete_failed": _plain(
        "{who} could not stop scheduled snapshots of {what}."
    ),
    "orphan.adopt": _plain("{who} linked {what} to the filespace found at LucidLink."),
    "orphan.delete_requested": _plain(
        "{who} asked LucidLink to delete a filespace no order holds ({what})."
    ),
    "apikey.created": _apikey_created,
    "apikey.revoked": _plain("{who} revoked the API key {what}."),
    "webhook.subscribed": lambda e, who: f"{who} added a webhook to {_after(e, 'url')}.",
    "webhook.unsubscribed": lambda e, who: f"{who} removed the webhook to {_before(e, 'url')}.",
    "plan.created": _plain("{who} created the plan {what}."),
    "plan.updated": _plain("{who} changed the plan {what}."),
    "plan.activated": _plain("{who} offered the plan {what} again."),
    "plan.deactivated": _plain("{who} withdrew the plan {what}."),
    "invoice.finalized": _plain("{who} finalized the invoice {what}."),
    "invoice.adjusted": _plain("{who} added an adjustment to the invoice {what}."),
    "invoice.credited": _plain("{who} issued a credit note against {what}."),
    "billing_flag.resolved": _plain("{who} resolved the billing flag {what}."),
    "billing_profile.updated": _plain("{who} changed the billing details of {what}."),
    "tax_rate.saved": _plain("{who} saved the tax rate {what}."),
    "payment_method.saved": _plain("{who} saved a card for {what}."),
    "payment.terms_granted": _plain("{who} let {what} pay by bank transfer (invoice terms)."),
    "payment.terms_withdrawn": _plain("{who} asked {what} to pay by card again."),
    "payment.requested": _plain("{who} charged the card for the invoice {what}."),
    "payment.succeeded": _plain("{who} recorded the payment of the invoice {what}."),
    "payment.action_needed": _plain("{who} asked the customer to confirm the payment of {what}."),
    "payment.failed": _plain("{who} recorded that the payment of the invoice {what} failed."),
    "payment.canceled": _plain("{who} replaced the payment of the invoice {what}."),
    "payment.manual_recorded": _plain("{who} recorded a bank transfer for the invoice {what}."),
    "payment.refund_requested": _plain("{who} asked for a refund against {what}."),
    "payment.refunded": _plain("{who} refunded the card for {what}."),
    "payment.refund_failed": _plain("{who} could not refund the card for {what}."),
    "payment.replaced_charge_refunded": _plain(
        "{who} refunded a replaced card charge of the invoice {what}: it was paid at Stripe "
        "after it was replaced, so the invoice would have been paid twice."
    ),
    "dunning.reminded": _plain("{who} sent a payment reminder for {what}."),
}

# Keys that mean nothing to a reader, and facts the sentences already state when first set.
_HIDDEN_KEYS = {"kind", "prefix", "error", "name_prefix"}
_STATED_KEYS = {"email", "remote_name", "url", "name", "role", "plan", "provider", "region"}


def _readable(value: object) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_readable(item) for item in value) or "none"
    return str(value).replace("_", " ")


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def change_lines(entry: AuditEntry) -> tuple[str, ...]:
    """Each changed value as a short line: "State: awaiting approval → approved"."""
    lines = []
    for key, old, new in entry.changes:
        if key in _HIDDEN_KEYS or old == new:
            continue
        if old is None and key in _STATED_KEYS:
            continue
        if old is None:
            lines.append(f"{_label(key)}: {_readable(new)}")
        elif new is None:
            lines.append(f"{_label(key)} was {_readable(old)}")
        else:
            lines.append(f"{_label(key)}: {_readable(old)} → {_readable(new)}")
    return tuple(lines)


def _fallback(entry: AuditEntry, who: str) -> str:
    words = entry.action.replace(".", " ").replace("_", " ")
    target = f" ({entry.target_label})" if entry.target_label else ""
    return f"{who}: {words}{target}."


def tell(entry: AuditEntry, *, for_staff: bool = False) -> Told:
    """The entry in words, for a customer (staff named as the MSP) or for staff."""
    who = actor_name(entry, for_staff=for_staff)
    sentence = SENTENCES.get(entry.action, _fallback)(entry, who)
    return Told(actor=who, sentence=sentence, details=change_lines(entry), note=entry.note)
