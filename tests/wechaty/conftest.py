"""Fixtures for the Wechaty bridge: the test puppet (gRPC, in this process) and the bridge
itself, run from its own virtualenv exactly as production runs it."""

import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from tests.support.processes import REPO, LiveProcess, free_port
from tests.support.waiting import wait_for
from tests.wechaty.puppet_server import TestPuppet

BRIDGE_PYTHON = REPO / ".venv-bridge" / "bin" / "python"
PUPPET_TOKEN = "puppet_local_test_token_0123456789"


@dataclass
class Bridge:
    process: LiveProcess
    name: str
    health_url: str

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            response = httpx.get(f"{self.health_url}/healthz", timeout=2)
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()

    def counters(self) -> dict[str, int]:
        counters: dict[str, int] = self.health()[1].get("counters", {})
        return counters

    def metrics_text(self) -> str:
        return httpx.get(f"{self.health_url}/metrics", timeout=2).text

    def wait_logged_in(self, timeout: float = 30) -> None:
        def _ready() -> bool:
            if self.process.popen.poll() is not None:
                raise AssertionError(f"bridge exited:\n{self.process.log()}")
            return self.health()[0] == 200

        wait_for(_ready, timeout=timeout, what="the bridge to log in")


@pytest.fixture
def puppet() -> Iterator[TestPuppet]:
    server = TestPuppet().start()
    yield server
    server.stop()


@pytest.fixture
def bridge_name() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def wechaty_redis_url() -> str:
    return f"{settings.REDIS_URL}/{settings.REDIS_BROKER_DB}"


@pytest.fixture
def start_bridge(
    live_env: dict[str, str], puppet: TestPuppet, bridge_name: str, wechaty_redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., Bridge]]:
    if not BRIDGE_PYTHON.exists():
        pytest.fail(f"{BRIDGE_PYTHON} is missing: `make install` creates the bridge's virtualenv")
    started: list[Bridge] = []

    def _start(desk_url: str, **extra: str) -> Bridge:
        port = free_port()
        env = {
            **live_env,
            "WECHATY_PUPPET_SERVICE_ENDPOINT": puppet.endpoint,
            "WECHATY_PUPPET_SERVICE_TOKEN": PUPPET_TOKEN,
            "DESK_API_URL": desk_url,
            "DESK_INBOUND_API_TOKEN": settings.DESK_INBOUND_API_TOKEN,
            "WECHATY_BRIDGE_NAME": bridge_name,
            "WECHATY_REDIS_URL": wechaty_redis_url,
            "WECHATY_BRIDGE_HEALTH_PORT": str(port),
            "WECHATY_BRIDGE_STATE_DIR": str(tmp_path / "bridge-state"),
            "WECHATY_RECONNECT_MIN_SECONDS": "0.2",
            "WECHATY_RECONNECT_MAX_SECONDS": "1",
            "WECHATY_HEARTBEAT_EVERY_SECONDS": "1",
            "WECHATY_DING_EVERY_SECONDS": "2",
            "WECHATY_STALE_AFTER_SECONDS": "10",
            **extra,
        }
        log = Path(tempfile.mkstemp(prefix="desk-bridge-", suffix=".log")[1])
        popen = subprocess.Popen(
            [str(BRIDGE_PYTHON), "-m", "workers.wechaty_bridge"],
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        process = LiveProcess(popen=popen, log_path=log)
        bridge = Bridge(process=process, name=bridge_name, health_url=f"http://127.0.0.1:{port}")
        started.append(bridge)
        return bridge

    yield _start
    for bridge in started:
        bridge.process.stop()
