"""Rules of managed operations: names, intervals, who may change what, generated passwords."""

from __future__ import annotations

import re
import secrets
import string

from django.core.exceptions import ValidationError

from portal.actions import Code, Principal, Refused, guards, record
from portal.customers.models import MANAGER_ROLES
from provisioning import cli, emails
from provisioning.models import Filespace

State = Filespace.State

# Name rules. Reference: section 3 "Names" (users `a-z A-Z 0-9 - _ . @` up to 128,
# case-insensitive; snapshots `a-z A-Z 0-9 - _ space ( )`; schedules the same, up to 40).
USER_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,128}$")
SCHEDULE_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,40}$")
INTERVAL_RE = re.compile(r"^[1-9][0-9]{0,3}(mo|m|h|d|w|y)$")
MAX_RETENTION = 10000  # [D] no published bound; a sane cap keeps typos out.


class OperationRefused(Refused):
    """The operation is not allowed now (suspended customer, filespace not ready); `message`."""

    def __init__(self, message: str, *, code: str = Code.INVALID_STATE) -> None:
        super().__init__(message, code=code)
        self.message = message


def require_may_manage(by: Principal, filespace: Filespace) -> Principal:
    """Owners and admins of the filespace's customer (or MSP staff) initialize a filespace and
    manage its users, snapshots and schedules; returns the principal. Every member creates their
    own filespace user through `filespace_own_user_create`, which checks membership instead."""
    by = Principal.of(by)
    guards.require_role(by, filespace.customer, MANAGER_ROLES, what="manage filespaces")
    return by


# --- Rules -----------------------------------------------------------------------------------


def generate_password(length: int = 24) -> str:
    """A random password of letters and digits that starts with a letter (never an option)."""
    alphabet = string.ascii_letters + string.digits
    first = secrets.choice(string.ascii_letters)
    return first + "".join(secrets.choice(alphabet) for _ in range(length - 1))


def validate_user_name(name: str) -> str:
    name = (name or "").strip()
    if not USER_NAME_RE.match(name):
        raise ValidationError(
            "Use 1 to 128 letters, digits, '-', '_', '.' or '@' (no spaces).", code="invalid"
        )
    if name.lower() == "root":
        raise ValidationError("'root' is the filespace's own administrator; choose another name.")
    return name


def validate_snapshot_name(name: str) -> str:
    name = (name or "").strip()
    if name and not SNAPSHOT_NAME_RE.match(name):
        raise ValidationError(
            "Use up to 128 letters, digits, spaces, '-', '_', '(' or ')'.", code="invalid"
        )
    return name


def validate_schedule_name(name: str) -> str:
    name = (name or "").strip()
    if not SCHEDULE_NAME_RE.match(name):
        raise ValidationError(
            "Use 1 to 40 letters, digits, spaces, '-', '_', '(' or ')'.", code="invalid"
        )
    return name


def validate_interval(interval: str) -> str:
    interval = (interval or "").strip()
    if not INTERVAL_RE.match(interval):
        raise ValidationError(
            "Write a number from 1 to 9999 followed by m (minutes), h, d, w, mo (months) or y, "
            "for example 6h or 1w.",
            code="invalid",
        )
    return interval


def validate_retention(retention) -> int:
    if isinstance(retention, bool) or not isinstance(retention, int):
        raise ValidationError("Retention is a whole number of snapshots to keep.")
    if not 1 <= retention <= MAX_RETENTION:
        raise ValidationError(f"Keep between 1 and {MAX_RETENTION} snapshots.")
    return retention


def why_not_changeable(*, filespace: Filespace) -> str:
    """Why users, snapshots and schedules cannot be changed now, or "" when they can."""
    if filespace.customer.status != filespace.customer.Status.ACTIVE:
        return (
            "Your organisation's account is "
            f"{filespace.customer.get_status_display().lower()}, so filespace changes are "
            "paused. Contact your provider."
        )
    if filespace.state != State.ACTIVE:
        return "The filespace must be initialized and active before it can be managed here."
    if not filespace.root_password:
        return (
            "This filespace was initialized outside the portal, so the portal does not hold "
            "its root password and cannot manage its users and snapshots."
        )
    return ""


def require_changeable(filespace: Filespace) -> None:
    reason = why_not_changeable(filespace=filespace)
    if reason:
        locked = filespace.customer.status != filespace.customer.Status.ACTIVE
        raise OperationRefused(reason, code=Code.CUSTOMER_LOCKED if locked else Code.INVALID_STATE)


def runner_for(filespace: Filespace) -> cli.LucidCli:
    return cli.for_filespace(filespace.qualified_name)


def audit_failure(*, actor, action: str, filespace: Filespace, error: cli.CliError, **after):
    """Audit a failed CLI operation; tell support when the error's message says it has been."""
    if error.tells_support:
        emails.tell_support_on_commit(
            filespace_id=filespace.pk, what=action.removeprefix("filespace."), reason=error.message
        )
    record(
        by=Principal.of(actor),
        action=action,
        target=filespace,
        after={**after, "error": type(error).__name__},
        note=error.message,
    )
