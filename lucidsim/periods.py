"""Billing periods, invoices and payment details of each account (part of the Simulator)."""

from __future__ import annotations

import threading
import uuid

from lucidsim import billing, errors, validation
from lucidsim.errors import ApiError
from lucidsim.persistence import Persistence


class BillingPeriods:
    """Mixed into ``Simulator``, which supplies the attributes declared here."""

    lock: threading.RLock
    store: Persistence
    accounts: dict
    filespaces: dict[str, dict]
    billing_state: dict[str, dict]

    def now_ms(self) -> int:
        raise NotImplementedError

    def stats_at(self, fs: dict, at_ms: int) -> dict[str, int]:
        raise NotImplementedError

    def _refresh(self, fs: dict, now: int) -> None:
        raise NotImplementedError

    # -- billing ---------------------------------------------------------------------------

    def _account_billing(self, client_id: str) -> dict:
        state = self.billing_state.get(client_id)
        if state is None:
            state = {
                "period_start": billing.month_start(self.now_ms()),
                "invoices": [],
                "payment": {},
            }
            self.billing_state[client_id] = state
            self.store.put("kv", f"billing:{client_id}", state)
        return state

    def _billables(self, client_id: str) -> list[billing.BillableFilespace]:
        now = self.now_ms()
        result = []
        for fs in self.filespaces.values():
            if fs["client_id"] != client_id:
                continue
            self._refresh(fs, now)
            history = fs["users_history"]

            def users_at(at: int, history: list = history) -> int:
                return next((count for ms, count in reversed(history) if ms <= at), 0)

            def users_peak(start: int, end: int, history: list = history, at=users_at) -> int:
                inside = [count for ms, count in history if start < ms <= end]
                return max([at(start), *inside])

            result.append(
                billing.BillableFilespace(
                    id=fs["id"],
                    name=fs["name"],
                    provider=fs["storage"]["provider"],
                    owner=fs["storage"]["owner"],
                    subscription_type=fs["subscriptionType"],
                    created_ms=fs["created_ms"],
                    deleted_ms=fs["deleted_ms"],
                    used_at=lambda at, fs=fs: self.stats_at(fs, at)["usedStorage"],
                    users_at=users_at,
                    users_peak=users_peak,
                )
            )
        return result

    def _close(self, client_id: str, closed_at: int) -> dict:
        state = self._account_billing(client_id)
        start = state["period_start"]
        invoice = billing.build_invoice(
            self._billables(client_id),
            invoice_id=str(uuid.uuid4()),
            period_start=start,
            period_end=billing.next_month_start(start),
            closed_at=closed_at,
            paid="paymentSourceToken" in state["payment"] or "card" in state["payment"],
            pdf_url="",
        )
        invoice["pdfUrl"] = f"https://invoices.lucidsim.invalid/{invoice['id']}.pdf"
        state["invoices"].append(invoice)
        state["period_start"] = closed_at
        self.store.put("kv", f"billing:{client_id}", state)
        # Deleted filespaces are only needed for the period they were deleted in.
        for fs in [f for f in self.filespaces.values() if f["client_id"] == client_id]:
            if fs["deleted_ms"] is not None and fs["deleted_ms"] < closed_at:
                del self.filespaces[fs["id"]]
                self.store.delete("filespaces", fs["id"])
        return invoice

    def _roll_periods(self, client_id: str, now: int) -> None:
        state = self._account_billing(client_id)
        while now >= billing.next_month_start(state["period_start"]):
            self._close(client_id, billing.next_month_start(state["period_start"]))

    def close_period(self, client_id: str) -> dict:
        with self.lock:
            now = self.now_ms()
            self._roll_periods(client_id, now)
            return self._close(client_id, now)

    def current_period(self, client_id: str) -> dict:
        with self.lock:
            now = self.now_ms()
            self._roll_periods(client_id, now)
            start = self._account_billing(client_id)["period_start"]
            return billing.period_summary(
                self._billables(client_id),
                period_start=start,
                period_end=billing.next_month_start(start),
                now=now,
            )

    def invoices(self, client_id: str) -> list[dict]:
        with self.lock:
            self._roll_periods(client_id, self.now_ms())
            return list(self._account_billing(client_id)["invoices"])

    def invoice_csv(self, client_id: str, invoice_id: str) -> str:
        for invoice in self.invoices(client_id):
            if invoice["id"] == invoice_id:
                return billing.invoice_csv(invoice)
        raise ApiError(404, errors.INVOICE_NOT_FOUND)

    def payment(self, client_id: str) -> dict:
        with self.lock:
            stored = self._account_billing(client_id)["payment"]
            # The payment source token is write-only: it is never sent back.
            return {key: value for key, value in stored.items() if key != "paymentSourceToken"}

    def set_payment(self, client_id: str, body: object) -> dict:
        try:
            clean = validation.payment_details(body)
        except validation.Invalid as exc:
            raise ApiError(400, errors.INVALID_BILLING, exc.reason) from None
        with self.lock:
            state = self._account_billing(client_id)
            state["payment"].update(clean)
            if "paymentSourceToken" in clean and "card" not in clean:
                state["payment"].setdefault(
                    "card", {"numberLast4": "4242", "expiryMonth": 12, "expiryYear": 2030}
                )
            self.store.put("kv", f"billing:{client_id}", state)
        return self.payment(client_id)
