"""Forms announce their errors to screen readers: a summary (role=alert) and each field marked.

Every form drawn by the shared partials (customers/_form_fields.html, portal/_error_summary.html;
allauth's pages go through them too) gets an error summary listing each problem, each linked to
its field; the field carries aria-invalid and an aria-describedby naming its error text.
"""

from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr", "area", "col", "embed"}


class Node:
    def __init__(self, tag: str, attrs: dict) -> None:
        self.tag, self.attrs, self.children, self.text = tag, attrs, [], []

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    def has_attr(self, name: str) -> bool:
        return name in self.attrs

    def get_text(self) -> str:
        return "".join(self.text + [child.get_text() for child in self.children])

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, tag: str | None = None, attrs: dict | None = None, **kw):
        return next(iter(self.find_all(tag, attrs, **kw)), None)

    def find_all(self, tag: str | None = None, attrs: dict | None = None, **kw):
        wanted = {**(attrs or {}), **kw}
        return [
            node
            for node in self.walk()
            if (tag is None or node.tag == tag)
            and all(
                (name in node.attrs) if value is True else node.attrs.get(name) == value
                for name, value in wanted.items()
            )
        ]


class _Tree(HTMLParser):
    """Just enough of a DOM to follow aria-describedby from a field to its error text."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                break

    def handle_data(self, data) -> None:
        self.stack[-1].text.append(data)


def parse_html(content: bytes) -> Node:
    tree = _Tree()
    tree.feed(content.decode())
    return tree.root


def _described_by(soup, field):
    return [soup.find(id=ref) for ref in field["aria-describedby"].split()]


def test_the_sign_up_form_marks_each_wrong_field_and_summarises_the_errors(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "not-an-address", "password1": "a-long-enough-passphrase-42",
         "password2": "something-else-entirely-7"},
    )  # fmt: skip
    assert response.status_code == 200
    soup = parse_html(response.content)
    summary = soup.find(attrs={"data-error-summary": True})
    assert summary is not None and summary["role"] == "alert"
    email = soup.find("input", attrs={"name": "email"})
    assert email["aria-invalid"] == "true"
    errors = [node for node in _described_by(soup, email) if node is not None]
    assert any("valid email" in node.get_text() for node in errors), errors
    # The summary names the field and links to it; the message itself is said once, by the field.
    link = summary.find("a", href=f"#{email['id']}")
    assert link is not None and "Email" in link.get_text()


def test_a_field_without_errors_is_not_marked_invalid(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "someone@example.com", "password1": "short", "password2": "short"},
    )
    soup = parse_html(response.content)
    email = soup.find("input", attrs={"name": "email"})
    assert not email.has_attr("aria-invalid")
    password = soup.find("input", attrs={"name": "password1"})
    assert password["aria-invalid"] == "true"
    assert soup.find(attrs={"data-error-summary": True}) is not None


def test_an_untouched_form_has_no_error_summary(client):
    soup = parse_html(client.get("/accounts/signup/").content)
    assert soup.find(attrs={"data-error-summary": True}) is None
    assert not soup.find_all(attrs={"aria-invalid": True})


def test_the_staff_plan_form_announces_its_errors_the_same_way(client, user_factory):
    from allauth.mfa.totp.internal.auth import TOTP

    staff = user_factory("ops@msp.example", is_staff=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client.force_login(staff)
    response = client.post("/staff/plans/new/", {"name": "", "currency": "US1"})
    soup = parse_html(response.content)
    summary = soup.find(attrs={"data-error-summary": True})
    assert summary["role"] == "alert"
    currency = soup.find("input", attrs={"name": "currency"})
    assert currency["aria-invalid"] == "true"
    texts = " ".join(n.get_text() for n in _described_by(soup, currency) if n is not None)
    assert "three-letter ISO 4217 code" in texts
    assert summary.find("a", href=f"#{currency['id']}") is not None
