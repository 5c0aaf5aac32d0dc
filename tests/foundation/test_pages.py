import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_home_lists_active_plans_with_prices(client, plan_factory):
    plan_factory(name="Teams", price_per_unit_month="0.025000")
    plan_factory(name="Retired", is_active=False)
    page = client.get("/").content.decode()
    assert "Teams" in page
    assert "0.025" in page
    assert "Retired" not in page


@pytest.mark.django_db
def test_home_explains_when_no_plan_is_on_offer(client):
    page = client.get("/").content.decode()
    assert "No plans are on offer yet" in page


@pytest.mark.django_db
@override_settings(MSP_NAME="Northwind Cloud")
def test_the_header_shows_the_msps_name(client):
    page = client.get("/").content.decode()
    assert "Northwind Cloud" in page
    assert 'href="#main"' in page  # skip link for keyboard users


@pytest.mark.django_db
def test_unknown_pages_get_the_styled_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "find that page" in response.content.decode()


def test_the_500_page_renders_without_a_database(rf):
    from portal.errors import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.django_db
def test_static_assets_are_served_locally(client):
    page = client.get("/").content.decode()
    assert "/static/css/portal.css" in page
    assert "/static/js/htmx.min.js" in page
    assert "https://cdn" not in page


@pytest.mark.django_db
def test_a_refused_page_gets_the_styled_403(client, django_user_model):
    user = django_user_model.objects.create_user("someone", "someone@example.com", "x" * 16)
    client.force_login(user)
    response = client.get("/staff/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "have access to this page" in page
    assert 'href="#main"' in page  # the portal layout, not Django's bare page
