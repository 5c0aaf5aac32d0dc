"""The customer's billing profile, tax rates, tax on invoices (docs/billing.md, "Tax")."""
