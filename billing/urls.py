from django.urls import path

from billing import views
from billing.tax import views as tax_views
from portal.security.staff import destructive_when


def _issues_a_credit_note(request) -> bool:
    return request.resolver_match.kwargs.get("action") == "credit"


app_name = "billing"

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/csv/", views.invoice_csv, name="invoice_csv"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("details/", tax_views.billing_details, name="details"),
    path("staff/tax-rates/", tax_views.staff_tax_rates, name="staff_tax_rates"),
    path("invoices/<int:pk>/lines/<int:line_pk>/", views.line_detail, name="line_detail"),
    path("staff/", views.staff_overview, name="staff_overview"),
    path("staff/customers/<int:customer_pk>/", views.staff_customer, name="staff_customer"),
    path("staff/invoices/<int:pk>/", views.staff_invoice, name="staff_invoice"),
    path("staff/invoices/<int:pk>/csv/", views.staff_invoice_csv, name="staff_invoice_csv"),
    path("staff/invoices/<int:pk>/pdf/", views.staff_invoice_pdf, name="staff_invoice_pdf"),
    path(
        "staff/invoices/<int:pk>/<str:action>/",
        destructive_when(_issues_a_credit_note)(views.staff_invoice_action),
        name="staff_invoice_action",
    ),
    path(
        "staff/invoices/<int:pk>/lines/<int:line_pk>/",
        views.staff_line_detail,
        name="staff_line_detail",
    ),
]
