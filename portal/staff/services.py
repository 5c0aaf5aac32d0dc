"""The staff console calls the owning apps' actions directly (portal.orders.services,
provisioning.services, portal.customers.lifecycle, portal.plans.services); the old `*_by_staff`
wrappers are gone. This module keeps the plan helpers importable for older code."""

from portal.plans.services import PLAN_FIELDS, plan_values

__all__ = ["PLAN_FIELDS", "plan_values"]
