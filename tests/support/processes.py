"""Start and stop real desk processes (uvicorn, celery worker) for end-to-end tests."""

import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class LiveProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_exit(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(args: list[str], env: dict[str, str], name: str) -> LiveProcess:
    log = Path(tempfile.mkstemp(prefix=f"desk-{name}-", suffix=".log")[1])
    popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return LiveProcess(popen=popen, log_path=log)


def start_celery_worker(env: dict[str, str], *, queue: str, concurrency: int = 4, timeout: float = 30) -> LiveProcess:
    proc = _spawn(
        [
            str(BIN / "celery"),
            "-A",
            "project",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        env,
        "worker",
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in proc.log():
            return proc
        if proc.popen.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{proc.log()}")
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"celery worker not ready in {timeout}s:\n{proc.log()}")


def start_asgi_server(env: dict[str, str], *, port: int, timeout: float = 30) -> LiveProcess:
    proc = _spawn(
        [str(BIN / "uvicorn"), "project.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        env,
        "web",
    )
    proc.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{proc.url}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.popen.poll() is not None:
            raise RuntimeError(f"uvicorn exited early:\n{proc.log()}")
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"uvicorn not ready in {timeout}s:\n{proc.log()}")
