from django.urls import path

from billing.payments import views

app_name = "payments"

urlpatterns = [
    path("payment-method/", views.payment_method, name="payment_method"),
    path("payments/", views.invoices, name="invoices"),
    path("payments/<int:pk>/", views.payment_detail, name="payment"),
    path("payments/invoices/<int:pk>/pay/", views.invoice_pay, name="invoice_pay"),
    path("staff/payments/", views.staff_payments, name="staff_payments"),
    path(
        "staff/payments/invoices/<int:pk>/manual/",
        views.staff_manual_payment,
        name="staff_manual_payment",
    ),
    path(
        "staff/payments/customers/<int:customer_pk>/terms/", views.staff_terms, name="staff_terms"
    ),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
