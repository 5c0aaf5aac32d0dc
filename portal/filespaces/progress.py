"""The customer's view of provisioning: a few plain steps from "ordered" to "ready"."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

DONE, CURRENT, PENDING, FAILED = "done", "current", "pending", "failed"

# How long each waiting step usually takes; past this the page says there is a delay.
EXPECTED_CREATE = timedelta(minutes=1)
EXPECTED_SETUP = timedelta(minutes=5)

# Where each filespace state sits on the customer's timeline (index of the current step).
_POSITION = {
    "requested": 1,
    "creating": 1,
    "provisioning": 2,
    "provisioned": 4,
    "active": 4,
}


@dataclass(frozen=True)
class Step:
    title: str
    status: str
    at: datetime | None = None
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    steps: tuple[Step, ...]
    settled: bool
    failed: bool
    error: str
    state: str
    # A plain sentence when a step is taking longer than it should, else "".
    delay: str = ""


def _failed_position(filespace) -> int:
    if filespace.provisioned_at:
        return 3
    if filespace.created_remote_at:
        return 2
    return 1


def delay_for(filespace, now: datetime) -> str:
    """Say so when the filespace waits longer than usual, from the row's attempts and times.

    A transient LucidLink failure leaves the row `requested` with `last_error` set and
    `next_poll_at` at the next attempt; a slow set-up leaves it `provisioning` past
    EXPECTED_SETUP. Either way the customer reads what is happening and that nothing is lost.
    """
    state = filespace.state
    if state in ("requested", "creating"):
        retry_at = filespace.next_poll_at
        if filespace.attempts and filespace.last_error:
            tries = "once" if filespace.attempts == 1 else f"{filespace.attempts} times"
            when = (
                f" The next try is at {timezone.localtime(retry_at):%H:%M} UTC."
                if retry_at and retry_at > now
                else " Trying again now."
            )
            return (
                "There is a delay: LucidLink is not answering at the moment. "
                f"The portal has tried {tries} and keeps trying by itself.{when} "
                "Your order is safe; nothing for you to do."
            )
        if now - filespace.requested_at > EXPECTED_CREATE:
            return (
                "This is taking longer than usual: the request has not reached LucidLink yet. "
                "It is queued and will be sent by itself; your order is safe."
            )
    created = filespace.created_remote_at
    if state == "provisioning" and created and now - created > EXPECTED_SETUP:
        return (
            "Setting up storage is taking longer than usual at LucidLink. "
            "The portal keeps checking and this page updates when it is ready."
        )
    return ""


def progress_for(filespace, now: datetime | None = None) -> Progress:
    """The steps with their status; `settled` tells the page to stop polling."""
    state = filespace.state
    failed = state == "error"
    position = _failed_position(filespace) if failed else _POSITION.get(state, 4)
    order = filespace.order
    titles = [
        ("Order placed", order.placed_at, ""),
        ("Creating the filespace at LucidLink", filespace.created_remote_at, ""),
        ("Setting up storage", filespace.provisioned_at, "This usually takes a minute or two."),
        ("Ready to connect", filespace.provisioned_at, ""),
    ]
    steps = []
    for index, (title, at, detail) in enumerate(titles):
        if index < position:
            status = DONE
        elif index == position and state not in ("provisioned", "active"):
            status = FAILED if failed else CURRENT
        elif index == position:
            status = DONE
        else:
            status = PENDING
        steps.append(Step(title, status, at if status == DONE else None, detail))
    if order.decided_at:
        # Plans that need approval: the MSP's decision sits between ordering and creating.
        steps.insert(1, Step("Approved", DONE, order.decided_at))
    if state == "active":
        steps.append(Step("Initialized and in use", DONE, filespace.active_at))
    settled = state in ("provisioned", "active", "error", "deleted")
    error = filespace.last_error if failed else ""
    delay = "" if settled else delay_for(filespace, now or timezone.now())
    return Progress(tuple(steps), settled, failed, error, state, delay)
