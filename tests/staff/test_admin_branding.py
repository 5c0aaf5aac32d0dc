"""The Django admin speaks as the MSP and spells its model names."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_admin_is_branded_with_the_msp_name(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert f"{settings.MSP_NAME} administration" in html
    assert "Django administration" not in html


def test_the_admin_lists_deliveries_spelled_right(client, staff_factory):
    client.force_login(staff_factory("root@msp.example", is_superuser=True))
    html = client.get("/admin/").content.decode()
    assert "Deliveries" in html
    assert "Deliverys" not in html
