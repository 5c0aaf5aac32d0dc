from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health
from portal.plans.models import Plan


def home(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.filter(is_active=True)
    return render(request, "portal/home.html", {"plans": plans})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 while the database answers, whatever else is down."""
    checks = {
        "database": health.database_state(),
        "broker": health.broker_state(),
        "worker": health.worker_state(),
        "lucidlink": health.lucidlink_state(),
    }
    body = {name: {"state": state, "detail": detail} for name, (state, detail) in checks.items()}
    status = 200 if checks["database"][0] == "ok" else 503
    body["status"] = "ok" if status == 200 else "unavailable"
    return JsonResponse(body, status=status)
