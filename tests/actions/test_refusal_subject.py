"""A refused attempt on an action that takes an id is audited against the row and its customer.

The invoice actions take `invoice_id=`; their refusals used to be audited with no customer and no
target, so the customer's activity and the staff's audit filter by customer never showed them.
"""

from decimal import Decimal

import pytest

from billing.services.invoices import invoice_add_adjustment, invoice_credit, invoice_finalize
from portal.actions import Refused
from portal.audit.models import AuditEntry
from tests.api.helpers import make_invoice


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda invoice, by: invoice_finalize(invoice_id=invoice.pk, actor=by), "finalize"),
        (
            lambda invoice, by: invoice_add_adjustment(
                invoice_id=invoice.pk, description="Free", amount="-5", reason="x", actor=by
            ),
            "adjust",
        ),
        (
            lambda invoice, by: invoice_credit(
                invoice_id=invoice.pk, amount=Decimal("1"), reason="x", actor=by
            ),
            "credit",
        ),
    ],
)
def test_a_customer_refused_an_invoice_action_is_audited_against_that_invoice(
    call, action, member_factory, db
):
    owner = member_factory(role="owner")
    invoice = make_invoice(owner.customer, finalize=action == "credit")

    with pytest.raises(Refused):
        call(invoice, owner.user)

    refused = AuditEntry.objects.get(action=f"invoice.{action}_refused")
    assert refused.customer_id == owner.customer.pk
    assert refused.target_id == str(invoice.pk)


def test_a_refusal_naming_no_invoice_is_still_audited(member_factory, db):
    owner = member_factory(role="owner")

    with pytest.raises(Refused):
        invoice_finalize(invoice_id=None, actor=owner.user)

    refused = AuditEntry.objects.get(action="invoice.finalize_refused")
    assert refused.customer_id is None
