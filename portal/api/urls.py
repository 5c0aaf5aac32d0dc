from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from portal.api import views

app_name = "api"

router = SimpleRouter()
router.register("plans", views.PlanViewSet, basename="plan")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("filespaces", views.FilespaceViewSet, basename="filespace")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("audit-entries", views.AuditEntryViewSet, basename="audit-entry")


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other path under /api/ answers a 404 in the API's error shape, not an HTML page."""
    body = {"error": {"code": "not_found", "message": "No such API endpoint or object."}}
    return JsonResponse(body, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("v1/", include(router.urls)),
    re_path(r"^(?P<rest>[\s\S]*)$", not_found),
]
