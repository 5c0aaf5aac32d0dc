from django.urls import path

from portal.apikeys import views
from portal.webhooks import views as webhook_views

app_name = "apikeys"

urlpatterns = [
    path("", views.customer_keys, name="customer_keys"),
    path("<int:pk>/revoke/", views.customer_key_revoke, name="customer_key_revoke"),
    path("webhooks/", webhook_views.customer_webhooks, name="customer_webhooks"),
    path(
        "webhooks/<int:pk>/delete/",
        webhook_views.customer_webhook_delete,
        name="customer_webhook_delete",
    ),
    path("msp/", views.msp_keys, name="msp_keys"),
    path("msp/<int:pk>/revoke/", views.msp_key_revoke, name="msp_key_revoke"),
    path("msp/webhooks/", webhook_views.msp_webhooks, name="msp_webhooks"),
    path(
        "msp/webhooks/<int:pk>/delete/",
        webhook_views.msp_webhook_delete,
        name="msp_webhook_delete",
    ),
    path("msp/deliveries/", webhook_views.msp_deliveries, name="msp_deliveries"),
    path(
        "msp/deliveries/<int:pk>/replay/",
        webhook_views.msp_delivery_replay,
        name="msp_delivery_replay",
    ),
]
