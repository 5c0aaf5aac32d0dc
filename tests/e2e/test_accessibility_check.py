"""The axe-core check itself: a page with an unlabelled input fails it, a labelled one passes.

The pages come from a tiny HTTP server of the test's own, so the check runs exactly as on the
portal: axe injected into every document, a page checked when the journey navigates away.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.accessibility import AccessibilityCheck, Violation
from tests.e2e.conftest import accessibility_check_of, accessibility_failures

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1><form>{field}<button type="submit">Send</button></form>
<p><a href="/unlabelled">The other form</a></p></main></body>
</html>"""
LABELLED = PAGE.format(
    title="Labelled", field='<label for="email">Email</label><input id="email" name="email">'
)
UNLABELLED = PAGE.format(title="Unlabelled", field='<input id="email" name="email">')


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (UNLABELLED if self.path.startswith("/unlabelled") else LABELLED).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_input_without_a_label_is_reported_when_the_journey_moves_on(pages, page):
    check = accessibility_check_of(page)
    page.goto(pages + "/unlabelled")
    page.goto(pages + "/labelled")  # nothing asks for a check: leaving the page runs it
    assert [(v.rule, v.impact, v.url) for v in check.violations] == [
        ("label", "critical", pages + "/unlabelled")
    ]
    report = check.report()
    assert "CRITICAL label on " + pages + "/unlabelled" in report
    assert '<input id="email" name="email">' in report
    check.forget()  # this test expects the violation; the journey check must not fail it


def test_a_page_left_at_once_by_a_click_is_still_checked(pages, page):
    check = accessibility_check_of(page)
    page.goto(pages + "/labelled")
    page.get_by_role("link", name="The other form").click()
    page.goto(pages + "/labelled")
    assert [(v.rule, v.url) for v in check.violations] == [("label", pages + "/unlabelled")]
    assert check.unchecked == []
    check.forget()


def test_a_labelled_form_passes(pages, page):
    check = accessibility_check_of(page)
    page.goto(pages + "/labelled")
    assert check.check(page) == []
    assert set(check.checked) == {pages + "/labelled"}
    assert check.violations == []


class _Context:
    """Stands in for a browser context the journey left open."""

    def __init__(self, check) -> None:
        self.check, self.closed = check, False

    def close(self) -> None:
        self.check.violations.append(
            Violation("http://portal/last", "label", "critical", "Form elements must have labels",
                      "https://example.invalid/label", (("#email", "<input id=email>", ""),))
        )  # fmt: skip
        self.closed = True


def test_the_end_of_a_journey_checks_what_was_left_open_and_reports_it():
    clean, dirty = AccessibilityCheck(), AccessibilityCheck()
    left_open = _Context(dirty)
    already_closed = _Context(clean)
    already_closed._a11y_closed = True
    report = accessibility_failures([(already_closed, clean), (left_open, dirty)])
    assert left_open.closed and not already_closed.closed
    assert "CRITICAL label on http://portal/last" in report
    assert "at #email: <input id=email>" in report
    assert accessibility_failures([(already_closed, clean)]) == ""
