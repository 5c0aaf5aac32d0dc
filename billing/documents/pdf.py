"""The invoice's print template rendered to PDF with WeasyPrint."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from billing.models import Invoice


class PdfError(RuntimeError):
    pass


@cache
def _stylesheet_text() -> str:
    path = finders.find("css/invoice-pdf.css")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _refuse_fetch(url: str, *args, **kwargs):
    # The document needs nothing from outside (its stylesheet is passed in); refusing every
    # fetch means no text on an invoice can make the renderer open a file or a URL.
    raise PdfError(f"The invoice PDF does not load outside resources ({url[:60]!r}).")


def filename_for(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF: the same document the print view shows, on A4 pages."""
    from weasyprint import CSS, HTML

    lines = list(invoice.lines.select_related("filespace", "plan").order_by("position", "id"))
    html = render_to_string(
        "billing/invoice_pdf.html",
        {"invoice": invoice, "lines": lines, "pdf": True, "MSP_NAME": settings.MSP_NAME},
    )
    document = HTML(string=html, url_fetcher=_refuse_fetch, base_url=".")
    return document.write_pdf(
        stylesheets=[CSS(string=_stylesheet_text(), url_fetcher=_refuse_fetch)]
    )
