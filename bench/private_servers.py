"""A Redis server and a Postgres cluster of a bench run's own: restarting them under load touches nothing else."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import Proc, free_port, wait_until


class PrivateRedis:
    """A redis-server of the run's own, with no persistence: a restart loses every queued task."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="desk-redis-"))
        self.proc = Proc("redis", [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                                   "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--dir", str(self.dir)], dict(os.environ))  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc.start()
        import redis

        wait_until(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), 20, "redis")

    def restart(self, down_s: float) -> None:
        self.proc.kill(signal.SIGKILL)
        time.sleep(down_s)
        self.start()

    def stop(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A Postgres cluster of the run's own (initdb in a temp dir, run as the postgres user)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="desk-pg-"))
        self.bin = Path(next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin")))))
        # Fault scenarios crash the cluster on purpose and need no fsync; a load measurement does,
        # or its Postgres CPU and commit latency would flatter the desk.
        self.durable = durable
        self.wrap: Callable[[list[str]], list[str]] = lambda argv: argv  # e.g. taskset: the server inherits it

    def _as_postgres(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(self.wrap([*prefix, *argv]), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        data = self.dir / "data"
        if not data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
            self._as_postgres(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.dir / "log"),
                          "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def restart(self, down_s: float) -> None:
        # "immediate" is a crash: every backend is killed, and the restart replays the WAL.
        self.stop(mode="immediate")
        time.sleep(down_s)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
