"""scripts/smoke.py, the pipelines' smoke step, against a running desk: uvicorn and a Celery worker on
the test's Postgres and Redis (the CI pipelines run it against the test namespace instead)."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.conversations.models import Message
from tests.support.processes import LiveProcess

pytestmark = [pytest.mark.live]

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke.py"


def _smoke(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SMOKE), "--url", url, *args], capture_output=True, text=True, timeout=90, check=False
    )


def test_the_smoke_script_passes_against_a_running_desk(
    asgi_server: str, celery_worker_process: Callable[..., LiveProcess]
) -> None:
    celery_worker_process()
    result = _smoke(asgi_server, "--wait", "45")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   GET /healthz 200" in result.stdout
    assert "ok   GET /readyz 200" in result.stdout
    assert "ok   answer from bot" in result.stdout
    inbound = Message.objects.get(direction="in")
    assert inbound.body == "请问退货要几天？"
    assert Message.objects.filter(reply_to=inbound, direction="out").count() == 1


def test_the_smoke_script_fails_when_no_answer_comes(asgi_server: str) -> None:
    # No worker: the message is stored but never answered.
    result = _smoke(asgi_server, "--wait", "3")
    assert result.returncode == 1
    assert "FAIL no answer to message" in result.stderr


def test_the_smoke_script_fails_when_nothing_listens() -> None:
    result = _smoke("http://127.0.0.1:9", "--timeout", "2")
    assert result.returncode == 1
    assert "FAIL GET /healthz" in result.stderr
