"""Which URL calls which action: the other half of the registry the matrix test walks.

Every named URL of the portal is either here (it may change state, through the actions listed)
or in READ_ONLY (it never does). tests/actions/test_registry.py fails when a URL is in neither,
so a new page cannot slip past the matrix. Admin model actions and commands are listed too.
"""

# URL name -> the actions a POST (or DELETE) to it may call.
ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    # Customer pages.
    "customers:onboarding": ("customer.create",),
    "customers:invite": ("invitation.create",),
    "customers:invitation_revoke": ("invitation.revoke",),
    "customers:member_remove": ("membership.remove",),
    "customers:member_role": ("membership.change_role",),
    "customers:invitation_accept": ("invitation.accept",),
    "orders:place": ("order.place",),
    "orders:cancel": ("order.cancel",),
    "filespaces:delete": ("filespace.delete",),
    "filespaces:initialize": ("filespace.initialize",),
    "filespaces:user_create": ("filespace.user_create",),
    "filespaces:own_user_create": ("filespace.own_user_create",),
    "filespaces:user_reset_password": ("filespace.user_reset_password",),
    "filespaces:self_initialize": ("filespace.self_init_request",),
    "filespaces:user_delete": ("filespace.user_delete",),
    "filespaces:snapshot_create": ("filespace.snapshot_create",),
    "filespaces:snapshot_delete": ("filespace.snapshot_delete",),
    "filespaces:schedule_create": ("filespace.schedule_create",),
    "filespaces:schedule_delete": ("filespace.schedule_delete",),
    "filespaces:change_plan": ("filespace.change_plan",),
    "apikeys:customer_keys": ("apikey.create",),
    "apikeys:customer_key_revoke": ("apikey.revoke",),
    "apikeys:customer_webhooks": ("webhook.subscribe",),
    "apikeys:customer_webhook_delete": ("webhook.unsubscribe",),
    # Staff console and MSP pages.
    "staff:customer_suspend": ("customer.suspend",),
    "staff:customer_resume": ("customer.resume",),
    "staff:customer_terminate": ("customer.termination_request",),
    "staff:termination_approve": ("customer.termination_approve",),
    "staff:termination_cancel": ("customer.termination_cancel",),
    "staff:order_approve": ("order.approve",),
    "staff:order_reject": ("order.reject",),
    "staff:filespace_retry": ("filespace.retry",),
    "staff:filespace_fail": ("filespace.force_fail",),
    "staff:filespace_delete": ("filespace.delete",),
    "staff:orphan_adopt": ("orphan.adopt",),
    "staff:orphan_delete": ("orphan.delete",),
    "staff:filespace_change_plan": ("filespace.change_plan",),
    "staff:plan_change_approve": ("filespace.plan_change_approve",),
    "staff:plan_change_reject": ("filespace.plan_change_reject",),
    "staff:plan_new": ("plan.save",),
    "staff:plan_edit": ("plan.save",),
    "staff:plan_set_active": ("plan.set_active",),
    "billing:staff_invoice_action": ("invoice.finalize", "invoice.adjust", "invoice.credit"),
    "payments:payment_method": ("payment_method.save",),
    "payments:payment": ("payment.settle",),
    "payments:invoice_pay": ("payment.retry",),
    "payments:staff_manual_payment": ("payment.manual_record",),
    "payments:staff_terms": ("payment.terms_set",),
    "payments:stripe_webhook": ("payment.settle",),
    "billing:details": ("billing_profile.update",),
    "billing:staff_tax_rates": ("tax_rate.save",),
    "apikeys:msp_keys": ("apikey.create",),
    "apikeys:msp_key_revoke": ("apikey.revoke",),
    "apikeys:msp_webhooks": ("webhook.subscribe",),
    "apikeys:msp_webhook_delete": ("webhook.unsubscribe",),
    "apikeys:msp_delivery_replay": ("webhook.replay",),
    # REST API.
    "api:customer-list": ("customer.create_for_msp",),
    "api:customer-suspend": ("customer.suspend",),
    "api:customer-resume": ("customer.resume",),
    "api:order-list": ("order.place",),
    "api:order-approve": ("order.approve",),
    "api:order-reject": ("order.reject",),
    "api:filespace-detail": ("filespace.delete",),
    "api:filespace-plan-change": ("filespace.change_plan",),
}

# Django admin model actions (admin "<app>.<model>:<action>") -> the action each calls.
ADMIN_ACTIONS: dict[str, tuple[str, ...]] = {
    "orders.order:approve": ("order.approve",),
    "provisioning.filespace:retry": ("filespace.retry",),
    "customers.customer:suspend": ("customer.suspend",),
    "customers.customer:resume": ("customer.resume",),
    "plans.plan:save_model": ("plan.save",),
    "plans.plan:deactivate": ("plan.set_active",),
    "plans.plan:activate": ("plan.set_active",),
    "billing.invoice:finalize": ("invoice.finalize",),
    "billing.billingflag:resolve": ("billing_flag.resolve",),
    "billing_tax.taxrate:save_model": ("tax_rate.save",),
    "webhooks.delivery:replay": ("webhook.replay",),
}

# Tasks and commands (system principal).
SYSTEM_CALLERS: dict[str, tuple[str, ...]] = {
    "portal.staff.tasks.carry_out_terminations": ("customer.termination_carry_out",),
    "provisioning.managed_tasks.initialize_filespace": ("filespace.init_run",),
    "billing.tasks.run_invoices / manage.py billing_invoice_run": ("invoice.run",),
    "billing.services.filespace_plan_change (billing corrections, tests)": (
        "filespace.change_plan",
    ),
    "billing.services.invoice_finalize (invoice.finalize opens the charge or refund)": (
        "payment.request",
        "payment.refund_request",
    ),
    "billing.payments.tasks.charge_payment / reconcile_payments": ("payment.settle",),
    "billing.payments.tasks.refund_payment": ("payment.refund_settle",),
    "billing.payments.tasks.cancel_payment_intent": ("payment.replaced_charge_refund",),
    "billing.payments.tasks.run_dunning": ("dunning.advance",),
    "manage.py seed_demo (demo data: the customer, its test card at localstripe)": (
        "customer.create",
        "payment_method.save",
    ),
}

# Named URLs that never change state (GET pages, downloads, partials, form steps that only
# keep a draft in the session).
READ_ONLY: frozenset[str] = frozenset(
    {
        "home", "healthz", "healthz-live", "healthz-ready", "metrics", "dashboard",
        "customers:switch", "customers:team",
        "plans:list", "plans:detail",
        "orders:list", "orders:new", "orders:check_name", "orders:regions", "orders:review",
        "orders:detail",
        "filespaces:list", "filespaces:detail", "filespaces:progress", "filespaces:script_sh",
        "filespaces:script_ps1", "filespaces:manage", "filespaces:secret",
        # Asks LucidLink for the status now: the same read-and-record step the poll sweep
        # takes, with no rule of its own to check beyond the customer's access to the page.
        "filespaces:check_status",
        "billing:usage", "billing:invoices", "billing:invoice_detail", "billing:invoice_csv",
        "billing:line_detail", "billing:staff_overview", "billing:staff_customer",
        "billing:staff_invoice", "billing:staff_invoice_csv", "billing:staff_line_detail",
        "payments:invoices", "payments:staff_payments",
        "billing:invoice_pdf", "billing:staff_invoice_pdf",
        "staff:dashboard", "staff:customers", "staff:customers_csv", "staff:customer",
        # Its forms post to the row action views listed above (retry, fail, delete, plan).
        "staff:filespace",
        "staff:orders", "staff:filespaces", "staff:plan_changes", "staff:orphans", "staff:plans",
        "staff:audit", "staff:plan_backtest",
        "audit:activity",
        "api:schema", "api:docs", "api:plan-list", "api:plan-detail", "api:customer-detail",
        "api:order-detail", "api:filespace-list", "api:filespace-daily",
        "api:filespace-samples", "api:invoice-list", "api:invoice-detail", "api:invoice-csv",
        "api:audit-entry-list",
        "apikeys:msp_deliveries",
    }
)  # fmt: skip
