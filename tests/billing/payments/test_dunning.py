"""Dunning: reminders on the configured days, a retry with each, suspension, resumption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from billing.payments import dunning, services, tasks
from billing.payments.models import Dunning, Payment
from portal.actions import Principal
from portal.audit.models import AuditEntry
from portal.customers.models import Customer

from .conftest import DECLINING_CARD

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def declined(customer_factory, draft_invoice, finalize, save_card, localstripe, time_machine):
    """A customer whose first charge was declined at START."""
    time_machine.move_to(START, tick=False)
    customer = customer_factory(billing_email="billing@acme.example")
    save_card(customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(customer))
    tasks.charge_payment.run(Payment.objects.get(invoice=invoice).pk)
    return invoice


def _run_on(time_machine, day: float, django_capture_on_commit_callbacks) -> dict:
    time_machine.move_to(START + timedelta(days=day), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.run_dunning.run()
    for payment in Payment.objects.filter(state=Payment.State.PENDING):
        tasks.charge_payment.run(payment.pk)  # the retry the reminder sent
    return outcome


def test_reminders_go_out_on_days_1_3_and_7_each_retrying_the_card_then_suspension(
    declined, time_machine, django_capture_on_commit_callbacks, settings
):
    settings.DUNNING_REMINDER_DAYS = [1, 3, 7]
    settings.DUNNING_SUSPEND_AFTER_DAYS = 10
    customer = declined.customer
    assert Dunning.objects.get(invoice=declined).reminders_sent == 0

    assert _run_on(time_machine, 0.5, django_capture_on_commit_callbacks) == {"nothing": 1}
    for day, sent in ((1, 1), (2, 1), (3, 2), (7, 3)):
        _run_on(time_machine, day, django_capture_on_commit_callbacks)
        assert len(mail.outbox) == sent, day
    assert [m.to for m in mail.outbox] == [["billing@acme.example"]] * 3
    assert "last reminder" in mail.outbox[-1].body
    assert Payment.objects.filter(invoice=declined, kind="charge").count() == 4  # 1 + 3 retries
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE

    assert _run_on(time_machine, 9.9, django_capture_on_commit_callbacks) == {"nothing": 1}
    assert _run_on(time_machine, 10, django_capture_on_commit_callbacks) == {"suspended": 1}
    assert _run_on(time_machine, 11, django_capture_on_commit_callbacks) == {"nothing": 1}
    customer.refresh_from_db()
    assert customer.status == Customer.Status.SUSPENDED
    entry = AuditEntry.objects.get(action="customer.suspended")
    assert entry.actor_label == "system" and "Non-payment" in entry.note
    assert dunning.suspended_for_nonpayment(customer)
    assert len(mail.outbox) == 3


def test_paying_after_suspension_resumes_the_customer(
    declined, time_machine, django_capture_on_commit_callbacks, save_card
):
    for day in (1, 3, 7, 10):
        _run_on(time_machine, day, django_capture_on_commit_callbacks)
    customer = Customer.objects.get(pk=declined.customer_id)
    assert customer.status == Customer.Status.SUSPENDED

    save_card(customer)  # a card that pays
    payment = services.payment_retry(invoice=declined, by=Principal.system())
    tasks.charge_payment.run(payment.pk)

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert AuditEntry.objects.get(action="customer.resumed").actor_label == "system"
    assert Dunning.objects.get(invoice=declined).closed_at is not None


def test_a_customer_suspended_by_staff_for_another_reason_is_not_resumed_by_paying(
    declined, time_machine, django_capture_on_commit_callbacks, user_factory
):
    from portal.customers.lifecycle import customer_suspend

    staff = user_factory(is_staff=True, mfa=True)
    customer = declined.customer
    customer_suspend(customer=customer, by=Principal.for_user(staff), reason="Abuse report")
    for day in (1, 3, 7, 10):
        _run_on(time_machine, day, django_capture_on_commit_callbacks)
    assert Dunning.objects.get(invoice=declined).suspended_at is None

    services.payment_manual_record(
        invoice=declined, by=Principal.for_user(staff), amount="12.34", reference="BANK-1"
    )
    customer.refresh_from_db()
    assert customer.status == Customer.Status.SUSPENDED
    assert not AuditEntry.objects.filter(action="customer.resumed").exists()


def test_a_repeated_run_sends_each_reminder_once(
    declined, time_machine, django_capture_on_commit_callbacks
):
    _run_on(time_machine, 1, django_capture_on_commit_callbacks)
    _run_on(time_machine, 1.1, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="dunning.reminded").count() == 1


def test_a_bank_transfer_closes_the_dunning_before_any_reminder(
    declined, time_machine, django_capture_on_commit_callbacks, user_factory
):
    staff = user_factory(is_staff=True, mfa=True)
    services.payment_manual_record(
        invoice=declined, by=Principal.for_user(staff), amount="12.34", reference="BANK-2"
    )
    assert _run_on(time_machine, 7, django_capture_on_commit_callbacks) == {}
    assert mail.outbox == []


def test_the_banner_says_the_suspension_is_for_non_payment_and_staff_see_the_queue(
    declined, time_machine, django_capture_on_commit_callbacks, client, member_factory,
    user_factory,
):  # fmt: skip
    from django.urls import reverse

    for day in (1, 3, 7, 10):
        _run_on(time_machine, day, django_capture_on_commit_callbacks)
    owner = member_factory(role="owner", customer=declined.customer)
    client.force_login(owner.user)
    page = client.get(reverse("payments:invoices")).content.decode()
    assert 'id="nonpayment-note"' in page and "resumes automatically" in page

    client.force_login(user_factory(is_staff=True, mfa=True))
    queue = client.get(reverse("payments:staff_payments") + "?show=failures").content.decode()
    assert "Suspended" in queue and declined.customer.name in queue


def test_a_crash_while_opening_the_retry_leaves_the_reminder_due_again(
    declined, time_machine, django_capture_on_commit_callbacks, monkeypatch
):
    """The reminder and its card retry commit together: a reminder counted without its retry
    would never be retried (the next run sees it as sent)."""
    time_machine.move_to(START + timedelta(days=1), tick=False)
    dunning_row = Dunning.objects.get(invoice=declined)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "_open_charge", crash)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        dunning.dunning_advance(dunning_id=dunning_row.pk, by=Principal.system())
    dunning_row.refresh_from_db()
    assert dunning_row.reminders_sent == 0 and len(mail.outbox) == 0
    assert not AuditEntry.objects.filter(action="dunning.reminded").exists()

    monkeypatch.undo()
    assert _run_on(time_machine, 1, django_capture_on_commit_callbacks) == {"reminded": 1}
    dunning_row.refresh_from_db()
    assert dunning_row.reminders_sent == 1 and len(mail.outbox) == 1
    assert Payment.objects.filter(invoice=declined, kind="charge").count() == 2
