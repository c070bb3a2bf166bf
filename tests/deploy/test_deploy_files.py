"""The container files stay in step with the Procfile, and the image's health probe works."""

import http.server
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]

# The same environment for both sides, so differing defaults do not hide a differing command.
_ENV = {
    "DESK_HOST": "desk-host",
    "DESK_PORT": "8000",
    "DESK_WORKER_CONCURRENCY": "16",
    "CELERY_QUEUE_PREFIX": "desk",
    "DESK_BEAT_SCHEDULE_FILE": "/tmp/schedule",
}
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def _expand(command: str) -> list[str]:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return _ENV.get(name, match.group(2) or "")

    return shlex.split(_VAR.sub(value, command))


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def _compose_services() -> dict[str, dict]:
    # Keys starting with x- are anchors only; PyYAML resolves the << merges.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.mark.parametrize("process", ["web", "worker", "llm", "beat", "embedded-llm"])
def test_compose_runs_the_procfile_command(process: str) -> None:
    command = _compose_services()[process]["command"]
    assert command[:2] == ["sh", "-c"]
    # Compose turns $$ into $, leaving the expansion to the container's shell.
    shell_line = command[2].replace("$$", "$")
    assert shell_line.startswith("exec ")
    assert _expand(shell_line.removeprefix("exec ")) == _expand(_procfile()[process])


def test_app_services_wait_for_the_migration() -> None:
    services = _compose_services()
    for name in ("web", "worker", "llm", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert "migrate" not in services["migrate"]["depends_on"]


def test_optional_services_stay_behind_their_profiles() -> None:
    services = _compose_services()
    assert services["bridge"]["profiles"] == ["wechaty"]
    assert services["vllm"]["profiles"] == ["gpu"]
    assert "--reasoning-parser" in services["vllm"]["command"]


class _ProxyAwareApp(http.server.BaseHTTPRequestHandler):
    """Answers like the desk under production settings: unknown Host 400, plain HTTP 301."""

    allowed_host = "desk.example.com"

    def do_GET(self) -> None:
        if self.headers.get("Host") != self.allowed_host:
            status = 400
        elif self.headers.get("X-Forwarded-Proto") != "https":
            status = 301
        else:
            status = 200 if self.path == "/healthz" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def app_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProxyAwareApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _probe(port: int, allowed_hosts: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESK_PORT": str(port), "DJANGO_ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_the_health_probe_passes_the_production_host_and_ssl_checks(app_port: int) -> None:
    assert _probe(app_port, "desk.example.com,localhost").returncode == 0


def test_the_health_probe_fails_when_the_app_refuses_it(app_port: int) -> None:
    result = _probe(app_port, "other.example.com")
    assert result.returncode == 1
    assert "answered 400" in result.stderr


def test_the_health_probe_fails_when_nothing_listens() -> None:
    result = _probe(free_port(), "desk.example.com")
    assert result.returncode == 1
    assert "unreachable" in result.stderr
