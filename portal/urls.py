from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.customers import views as customer_views

# The admin signs in through allauth (email, verification, MFA, rate limits), never its own form.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz-live"),
    path("healthz/ready", views.healthz_ready, name="healthz-ready"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("dashboard/", customer_views.dashboard, name="dashboard"),
    path("organisation/", include("portal.customers.urls")),
    path("plans/", include("portal.plans.urls")),
    path("orders/", include("portal.orders.urls")),
    path("filespaces/", include("portal.filespaces.urls")),
    path("billing/", include("billing.payments.urls")),
    path("billing/", include("billing.urls")),
    path("staff/", include("portal.staff.urls")),
    path("activity/", include("portal.audit.urls")),
    path("api/", include("portal.api.urls")),
    path("api-keys/", include("portal.apikeys.urls")),
]

handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"
