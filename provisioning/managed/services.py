"""Managed filespace operations through the `lucid` CLI: init-s3, users, snapshots, schedules.

The services of the managed package, gathered from its modules; import them from here
(`from provisioning.managed import services as managed`, then `managed.filespace_user_create(...)`).

Reference: docs/lucidlink-contract.md section 3; guarantees in docs/managed-operations.md.
Every change runs the CLI first, outside any transaction, and writes the portal's record only
after the CLI said it happened, so a failure leaves nothing half-saved. Every change is written
to the audit log. Passwords (the filespace root password, a new user's password) are generated
here, never logged, and the user password is returned once to the caller and then forgotten.
"""

from provisioning.managed.connection import (
    filespace_own_user_create,
    filespace_self_init_request,
    filespace_user_reset_password,
    own_filespace_user,
    suggested_user_name,
)
from provisioning.managed.initialization import (
    INIT_LEASE_SECONDS,
    INIT_MAX_ATTEMPTS,
    LUCIDLINK_OWNED_KEY,
    filespace_init_claim,
    filespace_init_run,
    filespace_initialize_request,
    filespace_inits_needing_a_push,
    filespace_refresh_status,
    why_not_initializable,
)
from provisioning.managed.operations import (
    filespace_snapshot_create,
    filespace_snapshot_delete,
    filespace_snapshots,
    filespace_user_create,
    filespace_user_delete,
    filespace_user_get_for,
    snapshot_schedule_create,
    snapshot_schedule_delete,
    snapshot_schedule_get_for,
)
from provisioning.managed.rules import (
    INTERVAL_RE,
    MAX_RETENTION,
    SCHEDULE_NAME_RE,
    SNAPSHOT_NAME_RE,
    USER_NAME_RE,
    OperationRefused,
    generate_password,
    validate_interval,
    validate_retention,
    validate_schedule_name,
    validate_snapshot_name,
    validate_user_name,
    why_not_changeable,
)

__all__ = [
    "INIT_LEASE_SECONDS",
    "INIT_MAX_ATTEMPTS",
    "INTERVAL_RE",
    "LUCIDLINK_OWNED_KEY",
    "MAX_RETENTION",
    "SCHEDULE_NAME_RE",
    "SNAPSHOT_NAME_RE",
    "USER_NAME_RE",
    "OperationRefused",
    "filespace_init_claim",
    "filespace_init_run",
    "filespace_initialize_request",
    "filespace_inits_needing_a_push",
    "filespace_own_user_create",
    "filespace_refresh_status",
    "filespace_self_init_request",
    "filespace_snapshot_create",
    "filespace_snapshot_delete",
    "filespace_snapshots",
    "filespace_user_create",
    "filespace_user_delete",
    "filespace_user_get_for",
    "filespace_user_reset_password",
    "generate_password",
    "own_filespace_user",
    "snapshot_schedule_create",
    "snapshot_schedule_delete",
    "snapshot_schedule_get_for",
    "suggested_user_name",
    "validate_interval",
    "validate_retention",
    "validate_schedule_name",
    "validate_snapshot_name",
    "validate_user_name",
    "why_not_changeable",
    "why_not_initializable",
]
