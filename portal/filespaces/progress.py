"""The customer's view of provisioning: a few plain steps from "ordered" to "ready"."""

from dataclasses import dataclass
from datetime import datetime

DONE, CURRENT, PENDING, FAILED = "done", "current", "pending", "failed"

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


def _failed_position(filespace) -> int:
    if filespace.provisioned_at:
        return 3
    if filespace.created_remote_at:
        return 2
    return 1


def progress_for(filespace) -> Progress:
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
    return Progress(tuple(steps), settled, failed, filespace.last_error if failed else "", state)
