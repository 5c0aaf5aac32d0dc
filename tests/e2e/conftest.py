"""The live stack for browser journeys: Debian's Chromium, a live server, lucidsim, a real worker.

Chromium is the system binary (`chromium` on PATH, `apt-get install chromium`); Playwright never
downloads a browser. Journeys that need a real Celery worker skip, saying why, without Redis and
PostgreSQL (tests/fixtures/worker.py).

Playwright's sync API keeps an asyncio loop running on the main thread while a browser is open,
and Django refuses ORM calls from a thread with a running loop. The pytest-playwright fixtures
are therefore overridden here with package scope: the loop (and DJANGO_ALLOW_ASYNC_UNSAFE, which
only the test code here needs) lives exactly as long as the journeys run, and the rest of the
suite, run in the same session by `make test`, never sees either.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.accessibility import AccessibilityCheck

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Rate limits, the cached LucidLink domain and the worker's cache live in this Redis database,
# shared by the live server and the worker and cleared before each journey (E2E_REDIS_DB to
# choose another one when several people share a Redis).
E2E_REDIS_DB = int(os.environ.get("E2E_REDIS_DB", "9"))
PASSWORD = "a-long-enough-passphrase-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# allauth's labels end with a colon: "Password:" and "Password (again):".
PASSWORD_LABEL = re.compile(r"^Password:?$")
CODE_LABEL = re.compile(r"^(Authenticator )?code:?$", re.IGNORECASE)


def artifacts_dir() -> Path:
    base = os.environ.get("ARTIFACTS")
    return Path(base) if base else PROJECT_ROOT / "var"


def pytest_configure(config: pytest.Config) -> None:
    # Keep the screenshot and trace of a failed journey unless the command line says otherwise.
    option = config.option
    if getattr(option, "screenshot", None) == "off":
        option.screenshot = "only-on-failure"
    if getattr(option, "tracing", None) == "off":
        option.tracing = "retain-on-failure"
    if getattr(option, "output", None) == "test-results":
        option.output = str(artifacts_dir() / "e2e-results")


def chromium_path() -> str | None:
    return shutil.which("chromium")


# -- Playwright, scoped to this package (see the module docstring) ---------------------------


@pytest.fixture(scope="package")
def browser_type_launch_args() -> dict:
    path = chromium_path()
    if path is None:
        pytest.skip("browser journeys skipped: no `chromium` on PATH (apt-get install chromium)")
    return {"executable_path": path, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts, browser_type_launch_args) -> Iterator:
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        pw = sync_playwright().start()
        if _pw_api_request_contexts:
            _pw_api_request_contexts.instrument(pw)
        try:
            yield pw
        finally:
            pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type) -> Callable:
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser) -> Iterator:
    browser = launch_browser()
    _check_accessibility_of_every_context(browser)
    yield browser
    browser.close()


# -- Accessibility: axe-core on every page of every context (tests/e2e/accessibility.py) --------

# The contexts opened by the running test, each with its check.
_CHECKED_CONTEXTS: list[tuple[object, AccessibilityCheck]] = []


def _check_accessibility_of_every_context(browser) -> None:
    """Every context a journey opens (fixtures or `browser.new_context`) runs axe on its pages."""
    original_new_context = browser.new_context

    def new_context(*args, **kwargs):
        context = original_new_context(*args, **kwargs)
        # Every document parses axe-core (about 0.5 MB) on load: on a loaded machine a first
        # page can take longer than the 10 s an element is given.
        context.set_default_navigation_timeout(30_000)
        check = AccessibilityCheck()
        check.install(context)
        original_close = context.close

        def close(*close_args, **close_kwargs):
            if not getattr(context, "_a11y_closed", False):
                check.check_open_pages(context)
                context._a11y_closed = True
            original_close(*close_args, **close_kwargs)

        context.close = close
        context._a11y_check = check
        _CHECKED_CONTEXTS.append((context, check))
        return context

    browser.new_context = new_context


def accessibility_check_of(page) -> AccessibilityCheck | None:
    return getattr(page.context, "_a11y_check", None)


@pytest.fixture(autouse=True)
def _accessibility_of_every_page() -> Iterator[None]:
    """Fail the journey on any serious or critical axe-core violation on a page it visited."""
    _CHECKED_CONTEXTS.clear()
    yield
    opened = list(_CHECKED_CONTEXTS)
    _CHECKED_CONTEXTS.clear()
    failures = accessibility_failures(opened)
    if failures:
        pytest.fail(failures, pytrace=False)


def accessibility_failures(opened: list[tuple[object, AccessibilityCheck]]) -> str:
    """Close what the journey left open (a last check of its pages), then report violations."""
    for context, _check in opened:
        if not getattr(context, "_a11y_closed", False):
            context.close()
    return "\n\n".join(check.report() for _context, check in opened if check.violations)


@pytest.fixture(scope="package")
def browser_context_args(_pw_artifacts_folder) -> dict:
    return {
        "viewport": {"width": 1280, "height": 860},
        "accept_downloads": True,
        "locale": "en-GB",
        "timezone_id": "UTC",
    }


@pytest.fixture
def context(new_context):
    """A fresh browser context per person; a missing element fails in 10 s, not 30.

    The journey fails if the browser refused anything under the Content-Security-Policy: a
    refused script or style is a broken page the policy would otherwise hide.
    """
    from playwright.sync_api import expect

    context = new_context()
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(30_000)  # every page parses axe-core (accessibility.py)
    expect.set_options(timeout=10_000)
    violations: list[str] = []
    context.on("console", lambda message: _note_csp_violation(message, violations))
    yield context
    assert not violations, "The browser refused content under the CSP:\n" + "\n".join(violations)


def _note_csp_violation(message, violations: list[str]) -> None:
    if "Content Security Policy" in message.text:
        violations.append(f"{message.location.get('url', '')}: {message.text}")


# -- The portal ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _e2e_cache(settings) -> Iterator[None]:
    """A cache of the journeys' own (Redis database E2E_REDIS_DB when REDIS_URL is set)."""
    from django.core.cache import cache

    url = os.environ.get("REDIS_URL")
    if url:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": e2e_redis_url(),
            }
        }
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "e2e-journeys",
            }
        }
    cache.clear()
    yield
    cache.clear()


def e2e_redis_url() -> str:
    return os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{E2E_REDIS_DB}"


@pytest.fixture
def msp_domain(lucidsim) -> dict:
    """The MSP's one LucidLink domain, created in the freshly reset simulator."""
    return lucidsim.create_domain("msp-e2e")


@pytest.fixture
def sim(lucidsim, msp_domain, settings) -> Iterator:
    """lucidsim with the MSP's domain and a 2 s provisioning delay; the portal points at it."""
    from provisioning import lucidlink

    lucidsim.set_delay(2)
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    lucidlink.forget_tokens()
    yield lucidsim
    lucidlink.forget_tokens()


@pytest.fixture
def portal(live_server, sim, transactional_db, settings) -> str:
    """The live server's base URL, its settings pointing at lucidsim, mail in the locmem outbox."""
    settings.PORTAL_BASE_URL = live_server.url
    return live_server.url


def worker_env(sim) -> dict[str, str]:
    env = {
        "LUCIDLINK_API_URL": sim.api_url,
        "LUCIDLINK_TOKEN_URL": sim.token_url,
        "LUCIDLINK_CLIENT_ID": sim.client_id,
        "LUCIDLINK_CLIENT_SECRET": sim.client_secret,
        "LUCIDLINK_READ_TIMEOUT": "5",
        "PROVISIONING_POLL_INTERVAL": "1",
        "PROVISIONING_FIRST_POLL_DELAY": "1",
        "PROVISIONING_READY_POLL_INTERVAL": "1",
        "PROVISIONING_RECONCILE_INTERVAL": "5",
        "PROVISIONING_RETRY_BASE": "1",
        "EMAIL_URL": "console://",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = e2e_redis_url()
    return env


@pytest.fixture
def worker(celery_worker_factory, sim):
    """A real Celery worker with embedded beat (1 s provisioning polls) talking to lucidsim."""
    return celery_worker_factory(env=worker_env(sim), beat=True)


# -- Helpers shared by the journeys -------------------------------------------------------------


def screenshots_dir() -> Path:
    """$E2E_SCREENSHOTS when set (`make screenshots` points it at docs/screenshots), else
    $ARTIFACTS/screenshots or var/screenshots, so a normal run never changes the work tree."""
    chosen = os.environ.get("E2E_SCREENSHOTS")
    return Path(chosen) if chosen else artifacts_dir() / "screenshots"


@dataclass
class Shots:
    """Screenshots of the main pages, saved under screenshots_dir()."""

    journey: str
    directory: Path = field(default_factory=screenshots_dir)
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page, name: str, *, mask: tuple = ()) -> Path:
        """Save a full-page screenshot; `mask` locators (secrets) are painted over."""
        check = accessibility_check_of(page)
        if check is not None:
            check.check(page)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.journey}-{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True, mask=list(mask))
        self.taken.append(path)
        return path


@pytest.fixture
def shots(request) -> Shots:
    name = request.node.name.removeprefix("test_")[:40]
    return Shots(journey=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))


@pytest.fixture
def plan(plan_factory):
    return plan_factory(
        name="Teams Standard",
        slug="teams-standard",
        description="A LucidLink Teams filespace on IBM Cloud storage.",
        allowed_regions=["us-east", "eu-de"],
    )


@pytest.fixture
def staff(user_factory):
    """MSP staff with TOTP set up (the secret is TOTP_SECRET)."""
    from allauth.mfa.totp.internal.auth import TOTP

    user = user_factory("ops@msp.example", is_staff=True)
    TOTP.activate(user, TOTP_SECRET)
    return user


def totp_code(secret: str = TOTP_SECRET) -> str:
    """The current code, computed with allauth's own TOTP helpers (as an authenticator app does)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    # allauth accepts only the current period by default: never type a code about to expire.
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Sign In").click()


def sign_in_with_totp(page, url: str, email: str, password: str, *, shots=None) -> None:
    """Open `url` signed out, sign in on the way with the password and then the TOTP code."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Sign In").click()
    code = page.get_by_label(CODE_LABEL)
    expect(code).to_be_visible()
    if shots is not None:
        shots(page, "totp")
    code.fill(totp_code())
    page.get_by_role("button", name="Sign In").click()


def mail_link(message, path_pattern: str) -> str:
    """The first link in an email whose path matches `path_pattern`."""
    match = re.search(r"https?://\S*?(" + path_pattern + r"\S*)", message.body)
    assert match, f"no link matching {path_pattern!r} in:\n{message.body}"
    return match.group(1)
