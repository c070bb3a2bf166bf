"""Liveness and readiness probes for the orchestrator."""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponseRedirect:
    # Demo installs land on the simulator; production (simulator off) lands on the staff site.
    return redirect("simulator" if settings.SIMULATOR_ENABLED else "admin:index")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason helps the operator
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
