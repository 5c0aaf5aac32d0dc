"""The verification snippet in docs/api.md accepts real deliveries and rejects tampering."""

import re
import time
from pathlib import Path

import pytest

from portal.webhooks import signing
from portal.webhooks.services import delivery_attempt, subscription_create, webhook_emit

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _snippet_verify():
    text = DOC.read_text().split("### Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


@pytest.mark.django_db
def test_the_documented_snippet_verifies_a_real_delivery(
    staff, receiver, customer_factory, no_webhook_enqueue
):
    verify = _snippet_verify()
    _subscription, secret = subscription_create(
        url=receiver.url, event_types=["order.placed"], created_by=staff
    )
    event = webhook_emit(
        event_type="order.placed", customer=customer_factory(), dedupe_key="doc:1", data={"a": 1}
    )
    delivery_attempt(delivery_id=event.deliveries.get().pk)
    request = receiver.wait_for(1)[0]
    header = request.headers["X-Portal-Signature"]
    assert verify(secret, request.body, header)
    assert not verify(secret, request.body + b" ", header)
    assert not verify("whsec_wrong", request.body, header)


def test_the_documented_snippet_refuses_a_replayed_old_delivery():
    verify = _snippet_verify()
    old = int(time.time()) - 301
    header = signing.sign(secret="whsec_x", body=b"{}", timestamp=old)
    assert not verify("whsec_x", b"{}", header)
    assert not verify("whsec_x", b"{}", "garbage")
