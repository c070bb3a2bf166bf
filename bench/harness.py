"""The whole desk on this box, for the load and fault benches: processes you can kill and restart.

A run gets a database of its own, and optionally a Redis server and a Postgres cluster of its
own (``bench/private_servers.py``) so that restarting them under load touches nothing else on
the machine. The LLM is ``peers/openai_server.py`` in a subprocess: a real
OpenAI-compatible streaming server whose behaviour (latency, 500s, hangs) is changed over HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TABLES = (
    "conversations_attachment, conversations_message, conversations_conversation, conversations_customer, "
    "audit_auditlog, moderation_flag, moderation_term, moderation_semanticrule, knowledge_entry, llm_endpoint, "
    "wechat_wechataccount"
)


def django_child_env(db_name: str) -> dict[str, str]:
    """The environment of a child process that runs the desk's code against the bench's own database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        DESK_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 - not up yet is the expected failure here
            pass
        time.sleep(interval)
    raise RuntimeError(f"{what} not ready in {timeout:.0f} s")


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    restarts: int = 0
    metrics_port: int = 0  # where the process serves its Prometheus registry (Stack(metrics=True)); 0: not served

    def start(self) -> None:
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix=f"desk-{self.name}-", suffix=".log")[1])
        log = self.log_path.open("ab")
        # A session of its own: a signal meant for the bench does not reach the stack half-way.
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def popen_pid(self) -> int | None:
        return self.popen.pid if self.alive and self.popen is not None else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive and self.popen is not None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive or self.popen is None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""

    def rss_mb(self) -> float:
        """Resident memory of the process and its children (uvicorn/celery keep everything in one)."""
        if not self.alive or self.popen is None:
            return 0.0
        total = 0
        for pid in [self.popen.pid, *_children(self.popen.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def cpu_s(self) -> float:
        if not self.alive or self.popen is None:
            return 0.0
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [grandchild for child in found for grandchild in _children(child)]


class FakeLLM:
    """peers/openai_server.py in a subprocess on a fixed port, so it can be killed and brought back."""

    def __init__(self, *, latency_s: float, chunk_delay_s: float = 0.0, answer: str | None = None) -> None:
        self.port = free_port()
        argv = [sys.executable, str(ROOT / "peers/openai_server.py"), "--port", str(self.port),
                "--latency", str(latency_s), "--chunk-delay", str(chunk_delay_s)]  # fmt: skip
        if answer:
            argv += ["--answer", answer]
        self.proc = Proc(f"llm-{self.port}", argv, dict(os.environ))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc.start()
        wait_until(lambda: httpx.get(f"{self.url}/health", timeout=1).status_code == 200, 20, self.proc.name)

    def behave(self, **changes: object) -> None:
        httpx.post(f"{self.url}/_behave", json=changes, timeout=5).raise_for_status()

    def stats(self, *, reset: bool = False) -> dict[str, int]:
        return httpx.get(f"{self.url}/_stats", params={"reset": "1"} if reset else {}, timeout=5).json()


@dataclass
class Stack:
    """web (uvicorn), worker (default queue), llm worker (process_inbound) and beat (sweeper)."""

    env: dict[str, str]
    llm_concurrency: int = 256
    llm_processes: int = 1
    worker_nice: int = 0
    cores: list[int] = field(default_factory=list)  # taskset for every process of the stack; [] = anywhere
    metrics: bool = False  # web and each worker serve their metrics on a port of their own (Proc.metrics_port)
    procs: dict[str, Proc] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    crash_loop: str = ""
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervised: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, beat: bool = True, supervise: bool = False) -> None:
        prefix = self.env["CELERY_QUEUE_PREFIX"]
        # Workers run at a lower CPU priority than web, as the Procfile has it: past capacity the
        # backlog of answers grows, but WeChat's callbacks are still acked within its 5 s.
        nice = ["nice", "-n", str(self.worker_nice)] if self.worker_nice else []
        worker = [*nice, str(BIN / "celery"), "-A", "project", "worker", "--pool", "threads", "--without-gossip",
                  "--without-mingle", "-l", "WARNING"]  # fmt: skip
        self.procs = {
            "web": Proc(
                "web",
                [
                    str(BIN / "uvicorn"),
                    "project.asgi:application",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                self.env,
            ),
            "worker": Proc(
                "worker",
                [
                    *worker,
                    "--concurrency",
                    "16",
                    "--queues",
                    f"{prefix}.default",
                    "--hostname",
                    f"default-{self.port}@%h",
                ],
                self.env,
            ),
        }
        # One process per core for the LLM queue: a threads pool shares one GIL, so a single
        # process tops out at one core of Python however many calls it keeps in flight.
        for index in range(self.llm_processes):
            name = "llm" if index == 0 else f"llm{index + 1}"
            argv = [*worker, "--concurrency", str(self.llm_concurrency), "--queues", f"{prefix}.llm",
                    "--hostname", f"{name}-{self.port}@%h"]  # fmt: skip
            self.procs[name] = Proc(name, argv, self.env)
        if beat:
            schedule = Path(tempfile.mkdtemp(prefix="desk-beat-")) / "schedule"
            self.procs["beat"] = Proc("beat", [str(BIN / "celery"), "-A", "project", "beat", "-l", "WARNING",
                                               "--schedule", str(schedule)], self.env)  # fmt: skip
        for proc in self.procs.values():
            if self.metrics and proc.name != "beat":
                proc.metrics_port = free_port()
                port_setting = "DESK_WEB_METRICS_PORT" if proc.name == "web" else "DESK_WORKER_METRICS_PORT"
                proc.env = {**proc.env, port_setting: str(proc.metrics_port)}
            if self.cores:
                proc.argv = ["taskset", "-c", ",".join(map(str, self.cores)), *proc.argv]
            proc.start()
        wait_until(lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200, 60, "web")
        if supervise:
            self._supervised = True
            self.supervise()

    def supervise(self) -> None:
        """Restart what exits, as compose's ``restart: unless-stopped`` does (a thread, every 0.5 s)."""

        def loop() -> None:
            while not self._stopping.wait(0.5):
                for proc in self.procs.values():
                    if proc.alive or self._stopping.is_set():
                        continue
                    if proc.restarts >= 5:
                        self.crash_loop = f"{proc.name} keeps exiting:\n{proc.log_tail()}"
                        return
                    proc.restarts += 1
                    code = proc.popen.returncode if proc.popen else "?"
                    print(f"   [{proc.name} exited with {code}; restarted]", flush=True)
                    proc.start()

        threading.Thread(target=loop, name="supervisor", daemon=True).start()

    def check_alive(self) -> None:
        if self.crash_loop:
            raise RuntimeError(self.crash_loop)
        if not self._stopping.is_set() and self._supervised:
            return
        for proc in self.procs.values():
            if not proc.alive:
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")

    def restarts(self) -> dict[str, int]:
        return {name: proc.restarts for name, proc in self.procs.items() if proc.restarts}

    def rss_mb(self) -> dict[str, float]:
        return {name: proc.rss_mb() for name, proc in self.procs.items()}

    def stop(self, *, show_logs: bool = False) -> None:
        self._stopping.set()
        for proc in self.procs.values():
            if proc.alive and proc.popen is not None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.stop()
            if show_logs:
                print(f"--- {proc.name} log (tail) ---\n{proc.log_tail()}", file=sys.stderr)


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a stack that answers and moderates as production does, quietly."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.local",
        DJANGO_DEBUG="false",
        DESK_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        DESK_ANSWERER="apps.llm.answerer.LLMAnswerer",
        DESK_MODERATOR="apps.moderation.moderator.ContentModerator",
    )
    env.update(overrides)
    return env


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def cpu_seconds(stack: Stack, extra: dict[str, Proc]) -> dict[str, float]:
    """User+system CPU so far of each stack process, the extra ones, Postgres, Redis and this process."""
    import psutil

    used = {name: proc.cpu_s() for name, proc in {**stack.procs, **extra}.items()}
    for name in ("postgres", "redis-server"):
        total = 0.0
        for found in psutil.process_iter(["name", "cpu_times"]):
            if found.info["name"] == name and found.info["cpu_times"] is not None:
                total += found.info["cpu_times"].user + found.info["cpu_times"].system
        used[name] = total
    times = psutil.Process().cpu_times()
    used["bench (customers)"] = times.user + times.system
    return used


def database_prepare(*, dsn: str, name: str, env: dict[str, str]) -> None:
    """Create (once) and migrate the run's database, then empty the tables a run fills."""
    with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(f"{dsn} dbname={name}", autocommit=True) as conn:
        # The audit log's append-only trigger guards rows (UPDATE, DELETE); emptying the bench's own
        # database with TRUNCATE is allowed.
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
