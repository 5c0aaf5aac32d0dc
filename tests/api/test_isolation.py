"""A customer key sees only its own organisation: others' objects answer 404, lists omit them."""

from datetime import date

import pytest

from tests.api.helpers import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(customer_factory, filespace_factory, api_key_factory, api_client_for):
    from portal.audit.services import audit_record

    mine, theirs = customer_factory(name="Mine"), customer_factory(name="Theirs")
    my_fs = filespace_factory(customer=mine, state="active", name="media")
    their_fs = filespace_factory(customer=theirs, state="active", name="secret")
    my_invoice, their_invoice = make_invoice(mine), make_invoice(theirs)
    audit_record(actor=None, action="test.mine", customer=mine)
    audit_record(actor=None, action="test.theirs", customer=theirs)
    api = api_client_for(api_key_factory(customer=mine)[1])
    return {
        "api": api,
        "mine": mine,
        "theirs": theirs,
        "my_fs": my_fs,
        "their_fs": their_fs,
        "my_invoice": my_invoice,
        "their_invoice": their_invoice,
    }


def _their_urls(w) -> list[str]:
    fs, order, invoice = w["their_fs"], w["their_fs"].order, w["their_invoice"]
    return [
        f"/api/v1/customers/{w['theirs'].pk}/",
        f"/api/v1/orders/{order.pk}/",
        f"/api/v1/filespaces/{fs.pk}/",
        f"/api/v1/filespaces/{fs.pk}/usage/samples/",
        f"/api/v1/filespaces/{fs.pk}/usage/daily/",
        f"/api/v1/invoices/{invoice.pk}/",
        f"/api/v1/invoices/{invoice.pk}/csv/",
    ]


def test_a_customer_key_gets_404_for_every_object_of_another_customer(world):
    for url in _their_urls(world):
        response = world["api"].get(url)
        assert response.status_code == 404, url
        assert world["theirs"].name not in response.content.decode()


def test_the_same_urls_answer_for_the_customers_own_objects(world):
    fs, invoice = world["my_fs"], world["my_invoice"]
    for url in [
        f"/api/v1/customers/{world['mine'].pk}/",
        f"/api/v1/orders/{fs.order.pk}/",
        f"/api/v1/filespaces/{fs.pk}/",
        f"/api/v1/filespaces/{fs.pk}/usage/samples/",
        f"/api/v1/invoices/{invoice.pk}/",
        f"/api/v1/invoices/{invoice.pk}/csv/",
    ]:
        assert world["api"].get(url).status_code == 200, url


def test_a_customer_key_cannot_delete_or_decide_another_customers_objects(world):
    api = world["api"]
    assert api.delete(f"/api/v1/filespaces/{world['their_fs'].pk}/").status_code == 404
    world["their_fs"].refresh_from_db()
    assert world["their_fs"].state == "active"
    # Approving is for MSP keys: refused before any lookup.
    assert api.post(f"/api/v1/orders/{world['their_fs'].order.pk}/approve/").status_code == 403
    assert api.post(f"/api/v1/customers/{world['theirs'].pk}/suspend/").status_code == 403


def test_lists_hold_only_the_customers_own_rows_even_when_filtering_for_another(world):
    api, theirs = world["api"], world["theirs"]
    for path, mine in [
        ("customers", {world["mine"].pk}),
        ("orders", {world["my_fs"].order.pk}),
        ("filespaces", {world["my_fs"].pk}),
        ("invoices", {world["my_invoice"].pk}),
    ]:
        ids = {row["id"] for row in api.get(f"/api/v1/{path}/").json()["results"]}
        assert ids == mine, path
        filtered = api.get(f"/api/v1/{path}/", {"customer": theirs.pk}).json()
        assert filtered.get("results", []) == [] or path == "customers", path
    actions = {row["action"] for row in api.get("/api/v1/audit-entries/").json()["results"]}
    assert "test.mine" in actions and "test.theirs" not in actions


def test_an_msp_key_sees_every_customer(world, msp_api):
    ids = {row["id"] for row in msp_api.get("/api/v1/filespaces/").json()["results"]}
    assert ids == {world["my_fs"].pk, world["their_fs"].pk}
    assert msp_api.get(f"/api/v1/invoices/{world['their_invoice'].pk}/").status_code == 200


def test_a_customer_key_never_sees_draft_invoices(world, api_key_factory):
    draft = make_invoice(world["mine"], finalize=False, period=date(2026, 6, 1))
    response = world["api"].get(f"/api/v1/invoices/{draft.pk}/")
    assert response.status_code == 404
