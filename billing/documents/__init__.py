"""Issued invoices as documents: the PDF and the email that carries it (docs/billing.md)."""
