"""CSV downloads of billing documents, shared by the customer pages, staff pages and the API."""

from __future__ import annotations

import csv

from django.http import HttpResponse

from billing import rating
from billing.models import Invoice


def spreadsheet_safe(value) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def invoice_csv_response(invoice: Invoice, lines) -> HttpResponse:
    label = invoice.number or f"draft-{invoice.pk}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{label}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "document", "period", "line", "kind", "description", "filespace", "window_start",
            "window_end", "unit", "quantity_rule", "quantity", "included", "billable",
            "unit_price", "amount", "currency", "note",
        ]
    )  # fmt: skip
    for line in lines:
        writer.writerow(
            [
                label, f"{invoice.period_start:%Y-%m}", line.position, line.kind,
                spreadsheet_safe(line.description),
                spreadsheet_safe(line.filespace.qualified_name if line.filespace else ""),
                line.window_start.isoformat() if line.window_start else "",
                line.window_end.isoformat() if line.window_end else "",
                line.unit_month, line.quantity_rule, line.quantity, line.included, line.billable,
                line.unit_price, rating.round_money(line.amount, invoice.currency),
                invoice.currency, spreadsheet_safe(line.note),
            ]
        )  # fmt: skip
    writer.writerow([label, "", "", "total", "", "", "", "", "", "", "", "", "", "",
                     invoice.display_total, invoice.currency, ""])  # fmt: skip
    return response
