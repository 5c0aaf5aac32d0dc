"""The customer's way into a filespace: who holds root, and each member's own filespace user.

Decisions (docs/managed-operations.md, "Who holds the root password"):

- When the portal initializes the filespace ("Initialize for me"), the portal holds the root
  password, encrypted; nobody at the customer ever sees it.
- When a manager initializes their own bucket themselves, the portal generates the root
  password, shows it to that manager once and keeps its encrypted copy, so it can still create
  every member's own filespace user. The manager holds root too and may link as root.
- Every member links as their own filespace user, created here through the CLI. Its password is
  shown once to that member and can be reset (the contract's `lucid user --set`).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from portal.actions import Principal, action, record
from portal.customers.models import MANAGER_ROLES, Membership
from portal.plans.models import StorageOwner
from provisioning import cli, services
from provisioning.managed.initialization import block_size_or_refuse, why_not_initializable
from provisioning.managed.models import FilespaceInit, FilespaceUser
from provisioning.managed.operations import filespace_user_add
from provisioning.managed.rules import (
    OperationRefused,
    audit_failure,
    generate_password,
    require_changeable,
    runner_for,
)
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.rules import DEFAULT_BLOCK_SIZE_KIB


def _membership(*, filespace: Filespace, actor) -> Membership:
    membership = Membership.objects.filter(customer_id=filespace.customer_id, user=actor).first()
    if membership is None:
        raise OperationRefused("Only members of the organisation can do this.")
    return membership


def suggested_user_name(user) -> str:
    """A filespace user name from the person's email address (the part before the @)."""
    local = (getattr(user, "email", "") or "").split("@")[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", local).strip("-.")
    return name[:64] or "user"


def own_filespace_user(*, filespace: Filespace, user) -> FilespaceUser | None:
    return FilespaceUser.objects.filter(filespace=filespace, member=user).first()


@action("filespace.own_user_create")
def filespace_own_user_create(
    *, filespace: Filespace, actor, name: str
) -> tuple[FilespaceUser, str]:
    """Any member: create their own filespace user; returns it and its one-time password."""
    _membership(filespace=filespace, actor=actor)
    require_changeable(filespace)
    if own_filespace_user(filespace=filespace, user=actor) is not None:
        raise OperationRefused(
            "You already have a filespace user on this filespace; reset its password instead."
        )
    return filespace_user_add(
        filespace=filespace, by=Principal.for_user(actor), name=name, email=actor.email,
        member=actor,
    )  # fmt: skip


@action("filespace.user_reset_password", audit_refusals=True)
def filespace_user_reset_password(*, filespace_user: FilespaceUser, actor) -> str:
    """A new password for a filespace user: its own member, or an owner or admin.

    The password goes to LucidLink (`lucid user --set`) and is returned once; never stored.
    """
    filespace = filespace_user.filespace
    membership = _membership(filespace=filespace, actor=actor)
    if filespace_user.member_id != actor.pk and membership.role not in MANAGER_ROLES:
        raise OperationRefused("Only owners and admins can reset another person's password.")
    require_changeable(filespace)
    password = generate_password()
    try:
        runner_for(filespace).user_set_password(
            root_password=filespace.root_password, name=filespace_user.name, user_password=password
        )
    except cli.CliError as exc:
        audit_failure(
            actor=actor, action="filespace.user_password_reset_failed", filespace=filespace,
            error=exc, name=filespace_user.name,
        )  # fmt: skip
        raise
    with transaction.atomic():
        FilespaceUser.objects.filter(pk=filespace_user.pk).update(password_set_at=timezone.now())
        record(
            by=Principal.of(actor),
            action="filespace.user_password_reset",
            customer=filespace.customer,
            target=filespace,
            after={"name": filespace_user.name},
        )
    return password


@action("filespace.self_init_request", audit_refusals=True)
@transaction.atomic
def filespace_self_init_request(
    *, filespace: Filespace, actor, block_size: int | str = DEFAULT_BLOCK_SIZE_KIB
) -> str:
    """An owner or admin will run init-s3 on their own bucket: returns the root password, once.

    The block size chosen here is recorded on the filespace; the kit's init-s3 command uses it.

    Only for customer-owned storage (LucidLink-owned storage has no keys a customer could pass).
    The portal keeps the encrypted copy so it can still create the members' filespace users,
    and polls LucidLink soon so the page sees the filespace become active.
    """
    filespace = (
        Filespace.objects.select_for_update().select_related("customer").get(pk=filespace.pk)
    )
    membership = _membership(filespace=filespace, actor=actor)
    if membership.role not in MANAGER_ROLES:
        raise OperationRefused("Only owners and admins can initialize a filespace.")
    block_size = block_size_or_refuse(block_size)
    if filespace.storage_owner != StorageOwner.CUSTOMER:
        raise OperationRefused(
            "This filespace uses storage LucidLink owns, so only the portal can initialize it."
        )
    reason = why_not_initializable(filespace=filespace)
    if reason:
        raise OperationRefused(reason)
    init = FilespaceInit.objects.filter(filespace=filespace).first()
    if init is not None and init.state == FilespaceInit.State.BY_CUSTOMER:
        raise OperationRefused(
            "The root password was already shown once. If it is lost, choose Initialize for "
            "me, or contact support."
        )
    now = timezone.now()
    init, created = FilespaceInit.objects.get_or_create(
        filespace=filespace,
        defaults={
            "requested_by": actor,
            "requested_at": now,
            "state": FilespaceInit.State.BY_CUSTOMER,
        },
    )
    if not created:
        FilespaceInit.objects.filter(pk=init.pk).update(
            state=FilespaceInit.State.BY_CUSTOMER, lease_until=None, last_error="",
            requested_by=actor, requested_at=now, finished_at=None,
        )  # fmt: skip
    if not filespace.root_password:
        filespace.root_password = generate_password()
    filespace.block_size_kib = block_size
    filespace.polls = 0
    filespace.next_poll_at = now
    filespace.save(
        update_fields=["root_password", "block_size_kib", "polls", "next_poll_at", "updated_at"]
    )
    services.event_record(
        filespace=filespace,
        kind=ProvisioningEvent.Kind.STATUS,
        message="The customer will initialize the filespace on their own bucket.",
        actor=actor,
    )
    record(
        by=Principal.of(actor),
        action="filespace.self_init_requested",
        customer=filespace.customer,
        target=filespace,
        after={"block_size_kib": block_size},
    )
    return filespace.root_password
