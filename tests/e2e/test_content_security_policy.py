"""The Content-Security-Policy in a real browser: enforced, and nothing of ours is refused.

Every journey fails on a CSP violation in the console (tests/e2e/conftest.py); these add the
pages no journey visits (the Swagger UI) and prove the policy really blocks inline script.
"""

import pytest
from playwright.sync_api import expect


@pytest.fixture
def site(live_server, transactional_db) -> str:
    return live_server.url


def test_the_swagger_ui_works_under_the_policy(site, page):
    page.goto(site + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Filespace Portal API")
    expect(page.get_by_text("/api/v1/orders/").first).to_be_visible()


def test_public_pages_render_with_htmx_loaded_and_no_refusal(site, page):
    for path in ("/", "/plans/", "/accounts/login/", "/accounts/signup/"):
        response = page.goto(site + path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.evaluate("typeof window.htmx") == "object"


def test_an_injected_inline_script_is_refused(site, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(site + "/")
    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__injected = true";
            document.head.appendChild(script);
            return window.__injected === true;
        }"""
    )
    context.close()
    assert ran is False
