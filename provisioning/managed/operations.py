"""Filespace users, snapshots and snapshot schedules through the CLI, and their selectors."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portal.actions import action, record
from provisioning import cli
from provisioning.managed.models import FilespaceUser, SnapshotSchedule
from provisioning.managed.rules import (
    audit_failure,
    generate_password,
    require_changeable,
    require_may_manage,
    runner_for,
    validate_interval,
    validate_retention,
    validate_schedule_name,
    validate_snapshot_name,
    validate_user_name,
)
from provisioning.models import Filespace

logger = logging.getLogger(__name__)

State = Filespace.State

# --- Filespace users -------------------------------------------------------------------------


@action("filespace.user_create", audit_refusals=True)
def filespace_user_create(
    *, filespace: Filespace, actor, name: str, email: str = "", member=None
) -> tuple[FilespaceUser, str]:
    """Create a filespace user at LucidLink, then record it; returns the row and its password.

    The password is returned once for the page that shows it and is never stored or logged.
    `member` ties the user to a portal member (their own login; one per member and filespace).
    """
    by = require_may_manage(actor, filespace)
    require_changeable(filespace)
    return filespace_user_add(filespace=filespace, by=by, name=name, email=email, member=member)


def filespace_user_add(
    *, filespace: Filespace, by, name: str, email: str = "", member=None
) -> tuple[FilespaceUser, str]:
    """The CLI call and the row behind `filespace_user_create`, for actions that checked who may
    add this user (a manager, or a member adding their own)."""
    actor = by.audit_user
    name = validate_user_name(name)
    if FilespaceUser.objects.filter(filespace=filespace, name__iexact=name).exists():
        raise ValidationError({"name": "This filespace already has a user with that name."})
    password = generate_password()
    runner = runner_for(filespace)
    try:
        runner.user_create(
            root_password=filespace.root_password, name=name, user_password=password, email=email
        )
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.user_create_failed", filespace=filespace, error=exc,
            name=name,
        )  # fmt: skip
        raise
    try:
        with transaction.atomic():
            user = FilespaceUser.objects.create(
                filespace=filespace, name=name, email=email, member=member, created_by=actor
            )
            record(
                by=by,
                action="filespace.user_created",
                target=filespace,
                after={"name": name, "email": email},
            )
    except IntegrityError:
        # The CLI made it but the portal cannot record it: undo at LucidLink, say so.
        _undo(lambda: runner.user_delete(root_password=filespace.root_password, name=name))
        raise ValidationError(
            {"name": "This filespace already has that user, or you already have one on it."}
        ) from None
    return user, password


def _undo(action) -> None:
    try:
        action()
    except cli.CliError as exc:
        logger.error("Could not undo a CLI change the portal failed to record: %s", exc.message)


@action("filespace.user_delete", audit_refusals=True)
def filespace_user_delete(*, filespace_user: FilespaceUser, actor) -> None:
    """Delete the user at LucidLink, then the row; a user LucidLink no longer has is removed too."""
    filespace = filespace_user.filespace
    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    require_changeable(filespace)
    try:
        runner_for(filespace).user_delete(
            root_password=filespace.root_password, name=filespace_user.name
        )
    except cli.NotFound:
        logger.info("User %s was already gone at LucidLink.", filespace_user.pk)
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.user_delete_failed", filespace=filespace, error=exc,
            name=filespace_user.name,
        )  # fmt: skip
        raise
    with transaction.atomic():
        FilespaceUser.objects.filter(pk=filespace_user.pk).delete()
        record(
            by=by,
            action="filespace.user_deleted",
            target=filespace,
            before={"name": filespace_user.name, "email": filespace_user.email},
        )


# --- Snapshots -------------------------------------------------------------------------------


def filespace_snapshots(*, filespace: Filespace) -> list[cli.SnapshotInfo]:
    """The filespace's snapshots as LucidLink lists them (raises cli.CliError)."""
    if not filespace.root_password or filespace.state != State.ACTIVE:
        return []
    return runner_for(filespace).snapshot_list(root_password=filespace.root_password)


@action("filespace.snapshot_create", audit_refusals=True)
def filespace_snapshot_create(*, filespace: Filespace, actor, name: str = "") -> int:
    """Take a snapshot now; returns LucidLink's snapshot id."""
    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    require_changeable(filespace)
    name = validate_snapshot_name(name)
    try:
        snapshot_id = runner_for(filespace).snapshot_create(
            root_password=filespace.root_password, name=name
        )
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.snapshot_create_failed", filespace=filespace,
            error=exc, name=name,
        )  # fmt: skip
        raise
    record(
        by=by,
        action="filespace.snapshot_created",
        target=filespace,
        after={"snapshot_id": snapshot_id, "name": name},
    )
    return snapshot_id


@action("filespace.snapshot_delete", audit_refusals=True)
def filespace_snapshot_delete(*, filespace: Filespace, actor, snapshot_id: int) -> None:
    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    require_changeable(filespace)
    try:
        runner_for(filespace).snapshot_delete(
            root_password=filespace.root_password, snapshot_id=snapshot_id
        )
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.snapshot_delete_failed", filespace=filespace,
            error=exc, snapshot_id=snapshot_id,
        )  # fmt: skip
        raise
    record(
        by=by,
        action="filespace.snapshot_deleted",
        target=filespace,
        before={"snapshot_id": snapshot_id},
    )


# --- Snapshot schedules ----------------------------------------------------------------------


@action("filespace.schedule_create", audit_refusals=True)
def snapshot_schedule_create(
    *, filespace: Filespace, actor, name: str, interval: str, retention: int
) -> SnapshotSchedule:
    """Create a snapshot schedule at LucidLink, then record it."""
    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    require_changeable(filespace)
    cleaned, errors = {}, {}
    for field, check, value in (
        ("name", validate_schedule_name, name),
        ("interval", validate_interval, interval),
        ("retention", validate_retention, retention),
    ):
        try:
            cleaned[field] = check(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    name, interval = cleaned["name"], cleaned["interval"]
    if SnapshotSchedule.objects.filter(filespace=filespace, name__iexact=name).exists():
        raise ValidationError({"name": "This filespace already has a schedule with that name."})
    runner = runner_for(filespace)
    try:
        runner.schedule_create(
            root_password=filespace.root_password,
            name=name,
            interval=interval,
            retention=retention,
        )
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.snapshot_schedule_create_failed",
            filespace=filespace, error=exc, name=name,
        )  # fmt: skip
        raise
    details = {"name": name, "interval": interval, "retention": retention}
    try:
        with transaction.atomic():
            schedule = SnapshotSchedule.objects.create(
                filespace=filespace, created_by=actor, **details
            )
            record(
                by=by,
                action="filespace.snapshot_schedule_created",
                target=filespace,
                after=details,
            )
    except IntegrityError:
        _undo(lambda: runner.schedule_delete(root_password=filespace.root_password, name=name))
        raise ValidationError(
            {"name": "This filespace already has a schedule with that name."}
        ) from None
    return schedule


@action("filespace.schedule_delete", audit_refusals=True)
def snapshot_schedule_delete(*, schedule: SnapshotSchedule, actor) -> None:
    filespace = schedule.filespace
    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    require_changeable(filespace)
    try:
        runner_for(filespace).schedule_delete(
            root_password=filespace.root_password, name=schedule.name
        )
    except cli.NotFound:
        logger.info("Snapshot schedule %s was already gone at LucidLink.", schedule.pk)
    except cli.CliError as exc:
        audit_failure(
            actor=by, action="filespace.snapshot_schedule_delete_failed",
            filespace=filespace, error=exc, name=schedule.name,
        )  # fmt: skip
        raise
    with transaction.atomic():
        SnapshotSchedule.objects.filter(pk=schedule.pk).delete()
        record(
            by=by,
            action="filespace.snapshot_schedule_deleted",
            target=filespace,
            before={"name": schedule.name, "interval": schedule.interval,
                    "retention": schedule.retention},
        )  # fmt: skip


# --- Selectors (always scoped to the customer first) -----------------------------------------


def filespace_user_get_for(*, customer, pk: int) -> FilespaceUser | None:
    return (
        FilespaceUser.objects.filter(filespace__customer=customer, pk=pk)
        .exclude(filespace__state=State.DELETED)
        .select_related("filespace__customer")
        .first()
    )


def snapshot_schedule_get_for(*, customer, pk: int) -> SnapshotSchedule | None:
    return (
        SnapshotSchedule.objects.filter(filespace__customer=customer, pk=pk)
        .exclude(filespace__state=State.DELETED)
        .select_related("filespace__customer")
        .first()
    )
