from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health
from portal.observability import exposition
from portal.plans.models import Plan


def home(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.filter(is_active=True)
    return render(request, "portal/home.html", {"plans": plans})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Every dependency's state for people and load balancers: 200 while the database answers."""
    checks = {
        "database": health.database_state(),
        "broker": health.broker_state(),
        "worker": health.worker_state(),
        "lucidlink": health.lucidlink_state(),
    }
    status = 200 if checks["database"][0] == "ok" else 503
    return _health_answer(checks, status)


@require_GET
@never_cache
def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness for orchestrators: the process answers; restarting it cannot fix anything else."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 only while the database, the broker and LucidLink (a real token) all work."""
    checks = {
        "database": health.database_state(),
        "broker": health.broker_state(),
        "lucidlink": health.lucidlink_state(),
    }
    status = 200 if all(state == "ok" for state, _detail in checks.values()) else 503
    return _health_answer(checks, status)


def _health_answer(checks: dict[str, tuple[str, str]], status: int) -> JsonResponse:
    body: dict = {
        name: {"state": state, "detail": detail} for name, (state, detail) in checks.items()
    }
    body["status"] = "ok" if status == 200 else "unavailable"
    return JsonResponse(body, status=status)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for a bearer token or an allowed address (docs/observability.md)."""
    refused = exposition.refusal(
        authorization=request.headers.get("Authorization", ""),
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
    if refused:
        status, reason = refused
        response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition.web_exposition(), content_type=exposition.CONTENT_TYPE_LATEST)
