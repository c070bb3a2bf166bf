"""Probes, metrics, API docs access and settings guard rails."""

import os
import subprocess
import sys

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.core.metrics_listener import metrics_listen
from tests.support.processes import REPO


def test_healthz_says_the_process_is_up(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_postgres_and_redis(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_is_unavailable_when_redis_is_unreachable(client: Client, settings: object) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


@pytest.mark.django_db
def test_metrics_are_exposed_in_prometheus_format(client: Client, settings: object) -> None:
    client.get("/healthz")
    token = settings.DESK_METRICS_TOKEN  # type: ignore[attr-defined]
    listener = metrics_listen(port=0, token=token, host="127.0.0.1")
    try:
        response = httpx.get(
            f"http://127.0.0.1:{listener.port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    finally:
        listener.stop()
    body = response.text
    assert "django_http_requests_total_by_method_total" in body


@pytest.mark.django_db
def test_api_docs_are_for_staff_only(client: Client) -> None:
    assert client.get("/api/docs").status_code == 302
    assert client.get("/api/openapi.json").status_code == 302
    staff = User.objects.create_user("agent", password="pw-agent-1", is_staff=True)
    client.force_login(staff)
    assert client.get("/api/docs").status_code == 200
    assert "/api/inbound/messages" in client.get("/api/openapi.json").json()["paths"]


@pytest.mark.django_db
def test_the_admin_speaks_chinese_by_default(client: Client) -> None:
    assert "登录" in client.get("/admin/login/").content.decode()


def _import_settings(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DESK_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=REPO, env=clean, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _import_settings("project.settings.production")
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = _import_settings("project.settings.production", DJANGO_SECRET_KEY="short", DESK_INBOUND_API_TOKEN="t")
    assert "at least 32 characters" in result.stderr


def test_production_starts_with_secrets_from_mounted_files(tmp_path: object) -> None:
    from pathlib import Path

    secret = Path(str(tmp_path)) / "secret"
    secret.write_text("s" * 50 + "\n")
    keys = Path(str(tmp_path)) / "keys"
    keys.write_text("k1:" + "a" * 43 + "=\n")
    metrics_token = Path(str(tmp_path)) / "metrics-token"
    metrics_token.write_text("m" * 43 + "\n")
    result = _import_settings(
        "project.settings.production",
        DJANGO_SECRET_KEY_FILE=str(secret),
        DESK_ENCRYPTION_KEYS_FILE=str(keys),
        DESK_INBOUND_API_TOKEN="token-token",
        DESK_METRICS_TOKEN_FILE=str(metrics_token),
    )
    assert result.returncode == 0, result.stderr


_PRODUCTION_SECRETS = {
    "DJANGO_SECRET_KEY": "s" * 50,
    "DESK_INBOUND_API_TOKEN": "token-token",
    "DESK_ENCRYPTION_KEYS": "k1:" + "a" * 43 + "=",
}


def test_production_refuses_to_start_without_a_metrics_token() -> None:
    result = _import_settings("project.settings.production", **_PRODUCTION_SECRETS)
    assert result.returncode != 0
    assert "Set the DESK_METRICS_TOKEN environment variable (or DESK_METRICS_TOKEN_FILE)" in result.stderr


@pytest.mark.parametrize("token", ["", "local-dev-metrics-token"])
def test_production_refuses_an_empty_or_development_metrics_token(token: str) -> None:
    result = _import_settings("project.settings.production", **_PRODUCTION_SECRETS, DESK_METRICS_TOKEN=token)
    assert result.returncode != 0
    assert "DESK_METRICS_TOKEN must be at least 32 characters" in result.stderr


def test_production_refuses_the_public_development_encryption_key() -> None:
    result = _import_settings(
        "project.settings.production",
        DJANGO_SECRET_KEY="s" * 50,
        DESK_INBOUND_API_TOKEN="token-token",
        DESK_ENCRYPTION_KEYS="dev:ZGV2LW9ubHktbm90LXNlY3JldC0zMi1ieXRlcy1rZXk=",
    )
    assert "public development key" in result.stderr


def test_a_misspelt_boolean_is_refused_not_guessed() -> None:
    result = _import_settings("project.settings.local", DJANGO_DEBUG="ture")
    assert "DJANGO_DEBUG must be true or false" in result.stderr


@pytest.mark.parametrize(("value", "message"), [("60,soon", "seconds separated by commas"), ("-5", "negative")])
def test_bad_gc_freeze_delays_are_refused_at_start_up(value: str, message: str) -> None:
    result = _import_settings("project.settings.local", DESK_GC_FREEZE_AFTER_S=value)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(("value", "message"), [("-1", "DESK_MALLOC_ARENAS must be 0"), ("two", "DESK_MALLOC_ARENAS")])
def test_a_bad_arena_count_is_refused_at_start_up(value: str, message: str) -> None:
    result = _import_settings("project.settings.local", DESK_MALLOC_ARENAS=value)
    assert result.returncode != 0
    assert message in result.stderr
