"""The registry of actions: every state change in the product is one registered function.

`@action("order.approve")` registers the function and marks the call, so `record` (the audit
writer) can refuse to run outside an action, and refused attempts of actions registered with
`audit_refusals=True` leave an audit entry even though the action's own transaction rolled back.
The matrix test (tests/actions/test_matrix.py) walks this registry and the entry points declared
in `portal/actions/entry_points.py`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from portal.actions.errors import Code, Refused
from portal.actions.principal import Principal


@dataclass(frozen=True)
class Action:
    name: str
    function: Callable
    audit_refusals: bool
    # Finds the row a refused call was about when the action takes its id (`invoice_id=`).
    subject: Callable[..., object] | None = None
    # Refusal codes worth an audit entry (an attempt to do what the rules forbid, not a typo).
    audited_codes: frozenset = frozenset(
        {Code.FORBIDDEN, Code.MFA_REQUIRED, Code.CUSTOMER_LOCKED, Code.CUSTOMER_INACTIVE}
    )


ACTIONS: dict[str, Action] = {}
_running: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("actions", default=())


def action(
    name: str, *, audit_refusals: bool = False, subject: Callable[..., object] | None = None
) -> Callable:
    """Register `function` as the action `name` (a dotted "<noun>.<verb>").

    `subject(**kwargs)` returns the row a call is about, for actions that take an id instead
    of the row: a refused attempt is then audited against it and its customer.
    """

    def decorator(function: Callable) -> Callable:
        if name in ACTIONS:
            raise RuntimeError(f"action {name} is registered twice")
        takes_by = "by" in inspect.signature(function).parameters

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if takes_by and "acting_user" in kwargs and "by" not in kwargs:
                # Transition: callers written before actions took `by` pass `acting_user`.
                kwargs["by"] = kwargs.pop("acting_user")
            token = _running.set((*_running.get(), name))
            try:
                return function(*args, **kwargs)
            except Refused as refusal:
                if audit_refusals and refusal.code in ACTIONS[name].audited_codes:
                    _audit_refusal(name=name, kwargs=kwargs, refusal=refusal)
                raise
            finally:
                _running.reset(token)

        wrapper.action_name = name
        ACTIONS[name] = Action(
            name=name, function=wrapper, audit_refusals=audit_refusals, subject=subject
        )
        return wrapper

    return decorator


def running_action() -> str | None:
    stack = _running.get()
    return stack[-1] if stack else None


def _audit_refusal(*, name: str, kwargs: dict, refusal: Refused) -> None:
    """Record a refused attempt. The action's transaction has rolled back by now; this entry
    is written on its own so it survives that (and an outer transaction that commits)."""
    if len(_running.get()) > 1:
        return  # a nested action's refusal is recorded by the outermost one
    from portal.audit.services import audit_write

    by = Principal.of(
        kwargs.get("by")
        or kwargs.get("actor")
        or kwargs.get("invited_by")
        or kwargs.get("acting_user")
    )
    subject = ACTIONS[name].subject
    if subject is not None:
        target = subject(**kwargs)
    else:
        target = next(
            (value for key, value in kwargs.items() if key != "by" and hasattr(value, "pk")),
            None,
        )
    customer = _customer_of(target)
    with transaction.atomic():
        audit_write(
            by=by,
            action=f"{name}_refused",
            customer=customer,
            target=target,
            after={"code": refusal.code},
            note=refusal.message_text,
        )


def _customer_of(target):
    if target is None:
        return None
    from portal.customers.models import Customer

    if isinstance(target, Customer):
        return target
    return getattr(target, "customer", None)
