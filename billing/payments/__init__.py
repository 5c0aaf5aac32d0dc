"""Getting paid through Stripe: cards on file, charges, refunds, webhooks (docs/payments.md)."""
