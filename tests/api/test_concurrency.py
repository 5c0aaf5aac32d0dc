"""Simultaneous retries of one order POST, through a live server, place one order."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from portal.orders.models import Order


@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_with_one_idempotency_key_place_one_order_and_agree(
    live_server, customer_factory, plan_factory, api_key_factory
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to test")
    customer = customer_factory(name_prefix="acme")
    plan = plan_factory()
    _key, raw = api_key_factory(customer=customer)
    body = {"plan": plan.pk, "name": "media", "provider": "IBM", "region": "us-east"}
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "race-1"}
    barrier = threading.Barrier(4)

    def post(_: int) -> requests.Response:
        barrier.wait(timeout=10)
        return requests.post(
            f"{live_server.url}/api/v1/orders/", json=body, headers=headers, timeout=30
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(post, range(4)))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert Order.objects.filter(customer=customer).count() == 1
