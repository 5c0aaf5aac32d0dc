from django.urls import path

from portal.security.staff import destructive
from portal.staff import backtest_views, orphan_views, plan_change_views, views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("customers/", views.customer_list, name="customers"),
    path("customers.csv", views.customer_csv, name="customers_csv"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("customers/<int:pk>/suspend/", views.customer_suspend, name="customer_suspend"),
    path("customers/<int:pk>/resume/", views.customer_resume, name="customer_resume"),
    path("customers/<int:pk>/terminate/", views.customer_terminate, name="customer_terminate"),
    path(
        "terminations/<int:pk>/approve/",
        destructive(views.termination_approve),
        name="termination_approve",
    ),
    path("terminations/<int:pk>/cancel/", views.termination_cancel, name="termination_cancel"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:pk>/approve/", views.order_approve, name="order_approve"),
    path("orders/<int:pk>/reject/", views.order_reject, name="order_reject"),
    path("filespaces/", views.filespace_list, name="filespaces"),
    path("filespaces/<int:pk>/", views.filespace_detail, name="filespace"),
    path("filespaces/<int:pk>/retry/", views.filespace_retry, name="filespace_retry"),
    path("filespaces/<int:pk>/fail/", destructive(views.filespace_fail), name="filespace_fail"),
    path(
        "filespaces/<int:pk>/delete/",
        destructive(views.filespace_delete),
        name="filespace_delete",
    ),
    path(
        "filespaces/<int:pk>/plan/",
        plan_change_views.filespace_change_plan,
        name="filespace_change_plan",
    ),
    path("plan-changes/", plan_change_views.plan_change_list, name="plan_changes"),
    path(
        "plan-changes/<int:pk>/approve/",
        plan_change_views.plan_change_approve,
        name="plan_change_approve",
    ),
    path(
        "plan-changes/<int:pk>/reject/",
        plan_change_views.plan_change_reject,
        name="plan_change_reject",
    ),
    path("orphans/", orphan_views.orphan_list, name="orphans"),
    path("orphans/<int:pk>/adopt/", orphan_views.orphan_adopt, name="orphan_adopt"),
    path(
        "orphans/<int:pk>/delete/",
        destructive(orphan_views.orphan_delete),
        name="orphan_delete",
    ),
    path("plans/", views.plan_list, name="plans"),
    path("plans/new/", views.plan_edit, name="plan_new"),
    path("plans/backtest/", backtest_views.plan_backtest_page, name="plan_backtest"),
    path("plans/<int:pk>/", views.plan_edit, name="plan_edit"),
    path("plans/<int:pk>/active/", views.plan_set_active, name="plan_set_active"),
    path("audit/", views.audit_log, name="audit"),
]
