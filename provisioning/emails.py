"""Emails to the customer about a filespace: ready to initialize, or failed.

Queued (task `send_filespace_email`) after the transaction that changed the state commits, so a
rolled-back change never mails anyone and a slow mail server never holds up a status sweep. A
mail failure is logged and never undoes the state change; each kind is sent once per filespace
state change (the EMAIL event records it, and a redelivered task checks for it).
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

READY = "filespace_ready"
FAILED = "filespace_failed"
KINDS = (READY, FAILED)


def recipients_for(filespace) -> list[str]:
    """The customer's billing address; members are added by the accounts issue."""
    email = filespace.customer.billing_email
    return [email] if email else []


def send_on_commit(*, filespace_id: int, kind: str) -> None:
    from provisioning import tasks

    if kind not in KINDS:
        raise ValueError(f"Unknown filespace email {kind!r}.")
    tasks.send_filespace_email.delay_on_commit(filespace_id, kind)


def send_many_on_commit(*, filespace_ids: list[int], kind: str) -> None:
    """One email task for a batch of filespaces (a status sweep's batch), sent after commit."""
    from provisioning import tasks

    if kind not in KINDS:
        raise ValueError(f"Unknown filespace email {kind!r}.")
    if filespace_ids:
        tasks.send_filespace_emails.delay_on_commit(list(filespace_ids), kind)


def _already_sent(filespace, kind: str) -> bool:
    """True when this kind was mailed after the filespace's latest change into its state."""
    from provisioning.models import ProvisioningEvent

    changed_at = filespace.provisioned_at if kind == READY else filespace.failed_at
    sent = ProvisioningEvent.objects.filter(
        filespace=filespace, kind=ProvisioningEvent.Kind.EMAIL, api_answer=kind
    )
    if changed_at is not None:
        sent = sent.filter(at__gte=changed_at)
    return sent.exists()


def send(*, filespace_id: int, kind: str) -> bool:
    from provisioning.models import Filespace, ProvisioningEvent

    filespace = Filespace.objects.select_related("customer", "plan").filter(pk=filespace_id).first()
    if filespace is None or _already_sent(filespace, kind):
        return False
    to = recipients_for(filespace)
    if not to:
        return False
    context = {
        "filespace": filespace,
        "customer": filespace.customer,
        "MSP_NAME": settings.MSP_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "PORTAL_BASE_URL": settings.PORTAL_BASE_URL.rstrip("/"),
    }
    subject = render_to_string(f"provisioning/email/{kind}_subject.txt", context)
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"provisioning/email/{kind}.txt", context),
        to=to,
    )
    message.attach_alternative(
        render_to_string(f"provisioning/email/{kind}.html", context), "text/html"
    )
    try:
        message.send()
    except Exception:
        # Any SMTP or connection failure: the state change stands; the log says who missed it.
        logger.exception("Could not send %s for filespace %s.", kind, filespace_id)
        return False
    ProvisioningEvent.objects.create(
        filespace=filespace,
        kind=ProvisioningEvent.Kind.EMAIL,
        message=f"Emailed {', '.join(to)}: {subject}",
        api_answer=kind,
    )
    return True


# --- Support -------------------------------------------------------------------------------


def tell_support_on_commit(*, filespace_id: int, what: str, reason: str) -> None:
    """Mail SUPPORT_EMAIL that a managed operation on a filespace failed, after commit.

    Pages that say "our support team has been told" rely on this having been queued.
    """
    from provisioning.managed import tasks as managed_tasks

    managed_tasks.send_support_email.delay_on_commit(filespace_id, what, reason)


def send_support(*, filespace_id: int, what: str, reason: str) -> bool:
    from provisioning.models import Filespace

    filespace = Filespace.objects.select_related("customer").filter(pk=filespace_id).first()
    if filespace is None or not settings.SUPPORT_EMAIL:
        return False
    context = {
        "filespace": filespace,
        "customer": filespace.customer,
        "what": what,
        "reason": reason,
        "MSP_NAME": settings.MSP_NAME,
        "PORTAL_BASE_URL": settings.PORTAL_BASE_URL.rstrip("/"),
    }
    subject = f"[{settings.MSP_NAME}] Needs attention: {what} for {filespace.qualified_name}"
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("provisioning/email/support_needs_attention.txt", context),
        to=[settings.SUPPORT_EMAIL],
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not tell support about filespace %s: %s", filespace_id, what)
        return False
    return True
