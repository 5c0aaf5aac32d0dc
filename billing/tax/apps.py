from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "billing.tax"
    label = "billing_tax"
    verbose_name = "Billing profiles and tax"
