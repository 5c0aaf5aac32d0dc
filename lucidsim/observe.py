"""Injected faults and the call ledger: in-memory only, cleared by a reset or a restart."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

LEDGER_LIMIT = 100_000
OPERATIONS = (
    "createDomain",
    "getDomains",
    "getDomain",
    "updateDomain",
    "deleteDomain",
    "createFilespace",
    "getFilespaces",
    "getFilespace",
    "deleteFilespace",
    "getPaymentDetails",
    "setPaymentDetails",
    "getCurrentPeriod",
    "getInvoices",
    "getInvoiceBreakdownPerFilespace",
    "token",
)


@dataclass
class Fault:
    id: int
    operation: str | None
    method: str | None
    path_prefix: str | None
    status: int | None
    retry_after: float | None
    delay_seconds: float
    body: str | None
    times: int
    # Perform the call, then close the connection without answering: the client never learns
    # whether it acted (a create that reached LucidLink but whose answer was lost).
    drop_after: bool = False

    def matches(self, operation: str, method: str, path: str, full_path: str) -> bool:
        """``path`` is relative to the API base (``/filespaces/...``); a full path also matches."""
        if self.operation is not None and self.operation != operation:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        prefix = self.path_prefix
        return prefix is None or path.startswith(prefix) or full_path.startswith(prefix)

    def describe(self) -> dict:
        return {key: value for key, value in vars(self).items()}


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, **fields) -> Fault:
        with self._lock:
            fault = Fault(id=self._next_id, **fields)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def take(self, operation: str, method: str, path: str, full_path: str) -> Fault | None:
        """Consume one use of the first matching fault, if any."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation, method, path, full_path):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[dict] = deque(maxlen=LEDGER_LIMIT)

    def record(self, **call) -> None:
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def snapshot(self) -> dict:
        with self._lock:
            calls = list(self._calls)
        by_operation = Counter(call["operation"] for call in calls)
        by_filespace: dict[str, Counter] = {}
        for call in calls:
            name = call["filespace_name"]
            if name is not None:
                by_filespace.setdefault(name, Counter())[call["operation"]] += 1
        return {
            "calls": calls,
            "by_operation": dict(by_operation),
            "by_filespace": {name: dict(counts) for name, counts in by_filespace.items()},
        }
