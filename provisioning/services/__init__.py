"""Filespace provisioning: the state machine's transitions, each a small service.

Tasks (provisioning/tasks.py) claim a row, call LucidLink outside any transaction, then record
the answer here with a conditional UPDATE that only succeeds if the row is still in the state
the task claimed. A row lock is never held across an HTTP call. State machine and guarantees:
docs/provisioning.md.

A package of small modules (common, create, status, delete, staff, reconcile); import the
services from here: `from provisioning import services` then `services.filespace_delete(...)`.
"""

from provisioning.services.common import (
    PAUSE_AFTER_CREATE_ENV,
    FilespaceNotOurs,
    LeaseLost,
    event_record,
    poll_delay,
    reason_for_rejection,
    reason_not_ours,
    reason_unreachable,
    retry_delay,
)
from provisioning.services.create import (
    CreateOutcome,
    filespace_claim_for_create,
    filespace_ensure_remote,
    filespace_record_created,
    filespace_request,
    filespace_schedule_retry,
)
from provisioning.services.delete import (
    filespace_claim_for_delete,
    filespace_remove_remote,
    filespace_schedule_delete_retry,
)
from provisioning.services.reconcile import (
    ReconcileResult,
    filespaces_needing_a_push,
)
from provisioning.services.staff import (
    filespace_delete,
    filespace_force_fail,
    filespace_retry,
)
from provisioning.services.status import (
    SweepResult,
    filespace_apply_remote_status,
    filespace_mark_failed,
    filespace_release_poll,
    filespaces_claim_due_polls,
    filespaces_poll_due,
)
from provisioning.services.termination import termination_carry_out

__all__ = [
    "PAUSE_AFTER_CREATE_ENV",
    "CreateOutcome",
    "FilespaceNotOurs",
    "LeaseLost",
    "ReconcileResult",
    "SweepResult",
    "event_record",
    "filespace_apply_remote_status",
    "filespace_claim_for_create",
    "filespace_claim_for_delete",
    "filespace_delete",
    "filespace_ensure_remote",
    "filespace_force_fail",
    "filespace_mark_failed",
    "filespace_record_created",
    "filespace_release_poll",
    "filespace_remove_remote",
    "filespace_request",
    "filespace_retry",
    "filespace_schedule_delete_retry",
    "filespace_schedule_retry",
    "filespaces_claim_due_polls",
    "filespaces_needing_a_push",
    "filespaces_poll_due",
    "poll_delay",
    "reason_for_rejection",
    "reason_not_ours",
    "reason_unreachable",
    "retry_delay",
    "termination_carry_out",
]
