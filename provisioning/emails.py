"""Emails to the customer about a filespace: ready to initialize, or failed.

Sent after the transaction that changed the state commits, so a rolled-back change never
mails anyone. A mail failure is logged and never undoes the state change.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
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
    if kind not in KINDS:
        raise ValueError(f"Unknown filespace email {kind!r}.")
    transaction.on_commit(lambda: send(filespace_id=filespace_id, kind=kind))


def send(*, filespace_id: int, kind: str) -> bool:
    from provisioning.models import Filespace, ProvisioningEvent

    filespace = Filespace.objects.select_related("customer", "plan").filter(pk=filespace_id).first()
    if filespace is None:
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
    )
    return True
