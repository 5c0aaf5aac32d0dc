"""Billing services: collection and rollups, invoices, the upstream check (docs/billing.md)."""

from billing.services.flags import billing_flag_resolve
from billing.services.invoices import (
    BillingError,
    invoice_add_adjustment,
    invoice_credit,
    invoice_finalize,
    invoice_rate_customer,
    invoice_run,
    invoice_verify,
)
from billing.services.plan_change import (
    PlanChangePreview,
    filespace_plan_change,
    plan_change_approve,
    plan_change_preview,
    plan_change_reject,
    plans_fitting,
    why_plan_does_not_fit,
)
from billing.services.retention import (
    PruneResult,
    retention_start,
    usage_partitions_ensure,
    usage_prune,
)
from billing.services.summaries import usage_summaries_append, usage_summaries_rebuild
from billing.services.upstream import upstream_check
from billing.services.usage import (
    LIVE_STATES,
    CollectResult,
    usage_collect,
    usage_rollup_days,
    usage_rollup_new,
    usage_samples_mark,
)

__all__ = [
    "LIVE_STATES",
    "BillingError",
    "CollectResult",
    "PlanChangePreview",
    "PruneResult",
    "billing_flag_resolve",
    "filespace_plan_change",
    "invoice_add_adjustment",
    "invoice_credit",
    "invoice_finalize",
    "invoice_rate_customer",
    "invoice_run",
    "invoice_verify",
    "plan_change_approve",
    "plan_change_preview",
    "plan_change_reject",
    "plans_fitting",
    "retention_start",
    "upstream_check",
    "usage_collect",
    "usage_partitions_ensure",
    "usage_prune",
    "usage_rollup_days",
    "usage_rollup_new",
    "usage_samples_mark",
    "usage_summaries_append",
    "usage_summaries_rebuild",
    "why_plan_does_not_fit",
]
