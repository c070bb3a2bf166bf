"""Where bench/load.py runs and what it samples: cores, its own Postgres and Redis, memory over time.

- **Cores.** ``--stack-cpus`` pins the desk (web, workers, beat) and its Postgres and Redis to
  some cores with ``taskset``; ``--bench-cpus`` pins the customers and the fake WeChat and LLM
  servers to others, where the machine has them. On a 2-core box both sets are the same two
  cores and pinning changes nothing: the CPU per message of each process is then what separates
  the desk's cost from the bench's.
- **Postgres and Redis of the run's own** (``--private-services``, the default): on a shared box
  the system's servers also serve other work, and their CPU would be charged to the desk. The
  private cluster is durable (fsync on), as production is; only its size and port differ.
- **Sampler**: once a second, resident memory and open TCP connections of every process,
  Postgres backends and Redis clients, the LLM server's calls in flight; and a snapshot at
  chosen minutes (5, 30, 60 for an hour's soak) for the growth table.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil
import psycopg

from bench import harness
from bench.private_servers import PrivatePostgres, PrivateRedis


def cpu_list(text: str) -> list[int]:
    """'0,1' or '0-3' or '' (no pinning) -> sorted core numbers, refusing cores the box lacks."""
    cores: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    available = os.sched_getaffinity(0)
    if missing := cores - available:
        raise SystemExit(f"cores {sorted(missing)} are not available here (this box has {sorted(available)})")
    return sorted(cores)


def pinned(argv: list[str], cores: list[int]) -> list[str]:
    return ["taskset", "-c", ",".join(map(str, cores)), *argv] if cores else argv


@dataclass
class Services:
    """A Postgres cluster and a Redis server of the run's own, pinned to the stack's cores."""

    cores: list[int]
    postgres: PrivatePostgres = field(default_factory=lambda: PrivatePostgres(durable=True))
    redis: PrivateRedis = field(default_factory=PrivateRedis)

    def start(self) -> None:
        self.postgres.wrap = lambda argv: pinned(argv, self.cores)
        self.redis.proc.argv = pinned(self.redis.proc.argv, self.cores)
        self.postgres.start()
        self.redis.start()

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.destroy()

    def env(self, db_name: str) -> dict[str, str]:
        return {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.postgres.port}/{db_name}",
            "REDIS_URL": self.redis.url,
        }

    def processes(self) -> dict[str, list[psutil.Process]]:
        """Postgres: the postmaster and every backend and helper under it; Redis: its server."""
        found: dict[str, list[psutil.Process]] = {"postgres": [], "redis": []}
        for name, pid in (("postgres", self.postgres.postmaster_pid()), ("redis", self.redis.proc.popen_pid)):
            if pid is None:
                continue
            try:
                root = psutil.Process(pid)
                found[name] = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        return found


class CpuMeter:
    """User+system CPU of the services' processes, remembering backends that have exited since
    (a Postgres backend's CPU leaves with it; sampled each second, at most a second is missed)."""

    def __init__(self, services: Services | None) -> None:
        self.services = services
        self.seen: dict[tuple[str, int, float], float] = {}  # (service, pid, create_time) -> CPU seconds
        self.lock = threading.Lock()

    def sample(self) -> None:
        if self.services is None:
            return
        for service, procs in self.services.processes().items():
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    key = (service, proc.pid, proc.create_time())
                except psutil.Error:
                    continue
                with self.lock:
                    self.seen[key] = times.user + times.system

    def totals(self) -> dict[str, float]:
        self.sample()
        with self.lock:
            totals: dict[str, float] = {}
            for (service, _pid, _created), seconds in self.seen.items():
                totals[service] = totals.get(service, 0.0) + seconds
        return totals


def connections(pid: int) -> int:
    """Open TCP connections of a process and its children (psutil walks /proc/<pid>/fd)."""
    total = 0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            total += len(proc.net_connections(kind="tcp"))
    except psutil.Error:
        pass
    return total


@dataclass
class Snapshot:
    minute: float
    rss_mb: dict[str, float]
    connections: dict[str, int]
    pg_backends: int
    redis_clients: int
    heap: dict[str, dict[str, float]] = field(default_factory=dict)


class Sampler(threading.Thread):
    """Once a second: memory and connections of every process, and the LLM server's calls in flight.
    ``checkpoints`` (minutes after ``mark()``) keep a snapshot each for the soak's growth table."""

    def __init__(self, stack: harness.Stack, llm: harness.FakeLLM, *, dsn: str, redis_url: str,
                 meter: CpuMeter, checkpoints: tuple[float, ...] = ()) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.stack, self.llm, self.dsn, self.redis_url, self.meter = stack, llm, dsn, redis_url, meter
        self.rss: list[dict[str, float]] = []
        self.in_flight: list[int] = []
        self.peak_in_flight = 0
        self.checkpoints = list(checkpoints)
        self.snapshots: list[Snapshot] = []
        self.started_at: float | None = None
        self.done = threading.Event()

    def mark(self) -> None:
        """The measured phase starts: checkpoints count from here."""
        self.started_at = time.monotonic()

    def snapshot(self) -> Snapshot:
        import redis

        minute = (time.monotonic() - self.started_at) / 60 if self.started_at else 0.0
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
        clients = redis.Redis.from_url(self.redis_url).info("clients")["connected_clients"]
        return Snapshot(
            minute=minute,
            rss_mb=self.stack.rss_mb(),
            connections={
                name: connections(proc.popen.pid) for name, proc in self.stack.procs.items() if proc.popen is not None
            },
            pg_backends=int(row[0]) if row else 0,
            redis_clients=int(clients),
            heap=heap(self.stack),
        )

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.meter.sample()
            self.rss.append(self.stack.rss_mb())
            if self.started_at and self.checkpoints and time.monotonic() - self.started_at >= self.checkpoints[0] * 60:
                self.checkpoints.pop(0)
                try:
                    self.snapshots.append(self.snapshot())
                except Exception as exc:  # a missed snapshot is reported, not fatal
                    print(f"   [snapshot failed: {exc}]", flush=True)
            try:
                stats = self.llm.stats(reset=True)
            except Exception:  # noqa: S112 - a missed sample is not a result
                continue
            self.in_flight.append(stats["in_flight"])
            self.peak_in_flight = max(self.peak_in_flight, stats["max_in_flight"])


def growth_table(snapshots: list[Snapshot]) -> list[str]:
    """RSS and connections per process at each snapshot, and growth from the first (after warm-up)."""
    if not snapshots:
        return []
    names = list(snapshots[0].rss_mb)
    head = "| process | " + " | ".join(f"RSS at {s.minute:.3g} min" for s in snapshots) + " | growth |"
    lines = [head, "|---" * (len(snapshots) + 2) + "|"]
    for name in names:
        first, last = snapshots[0].rss_mb[name], snapshots[-1].rss_mb.get(name, 0.0)
        growth = (last - first) / first * 100 if first else 0.0
        cells = " | ".join(f"{s.rss_mb.get(name, 0.0):.0f} MB" for s in snapshots)
        lines.append(f"| {name} | {cells} | {growth:+.1f} % |")
    conns = " | ".join(
        f"{sum(s.connections.values())} TCP, {s.pg_backends} PG backends, {s.redis_clients} Redis clients"
        for s in snapshots
    )
    lines.append(f"| open connections (desk processes) | {conns} | |")
    for name in names:  # where the memory is, for the processes with a metrics port
        for label in _HEAP.values():
            values = [s.heap.get(name, {}).get(label) for s in snapshots]
            if any(v is None for v in values):
                continue
            scale, unit = (1e6, " MB") if label.startswith("malloc") else (1.0, "")
            shown = [f"{(v or 0.0) / scale:,.0f}{unit}" for v in values]
            change = ((values[-1] or 0.0) - (values[0] or 0.0)) / scale
            lines.append(f"| {name}: {label} | {' | '.join(shown)} | {change:+,.0f}{unit} |")
    return lines


SIZES_SQL = """
SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
"""


def table_sizes(dsn: str) -> dict[str, tuple[int, int]]:
    """Bytes of each table and of its indexes (after VACUUM ANALYZE: sizes settle, statistics too)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return {name: (table, indexes) for name, table, indexes in conn.execute(SIZES_SQL).fetchall()}


def storage_per_million(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
                        messages: int) -> list[str]:  # fmt: skip
    """What the measured messages added to each table and its indexes, scaled to a million messages
    (the seeded tables that do not grow with traffic drop out)."""
    if not messages:
        return []
    scale = 1_000_000 / messages / 2**30
    grown = {
        name: (table - before.get(name, (0, 0))[0], indexes - before.get(name, (0, 0))[1])
        for name, (table, indexes) in after.items()
    }
    grown = {name: sizes for name, sizes in grown.items() if sizes[0] + sizes[1] > 0}
    head = f"| table (grown by {messages:,} messages in) | table, GiB per million messages | indexes, GiB per million |"
    lines = [head, "|---|---|---|"]
    for name, (table, indexes) in sorted(grown.items(), key=lambda item: -sum(item[1])):
        lines.append(f"| {name} | {table * scale:.3f} | {indexes * scale:.3f} |")
    total_table, total_indexes = sum(s[0] for s in grown.values()), sum(s[1] for s in grown.values())
    lines.append(f"| **all** | **{total_table * scale:.3f}** | **{total_indexes * scale:.3f}** |")
    return lines


def pin_self(cores: list[int]) -> None:
    """The bench process (customers, the fake WeChat API) and what it starts (the fake LLM) run here."""
    if cores:
        os.sched_setaffinity(0, cores)


def taskset_available() -> bool:
    return subprocess.run(["taskset", "-V"], capture_output=True, check=False).returncode == 0


_GC = "desk_gc_full_collection_seconds"


@dataclass(frozen=True)
class GcPauses:
    """A process's full garbage collections so far (apps/core/gc_policy.py times them)."""

    count: float = 0.0
    seconds: float = 0.0
    over_50ms: float = 0.0

    def since(self, before: GcPauses) -> GcPauses:
        return GcPauses(self.count - before.count, self.seconds - before.seconds, self.over_50ms - before.over_50ms)


def scrape(stack: harness.Stack, prefixes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """The samples whose names start with one of prefixes, per process, from each process's metrics port
    (a Stack started with metrics=True); a process that does not answer is left out."""
    token = stack.env.get("DESK_METRICS_TOKEN", "local-dev-metrics-token")
    out: dict[str, dict[str, float]] = {}
    for name, proc in stack.procs.items():
        if not proc.metrics_port or not proc.alive:
            continue
        try:
            url = f"http://127.0.0.1:{proc.metrics_port}/metrics"
            text = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).text
        except httpx.HTTPError:
            continue
        rows = (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith(prefixes))
        out[name] = {key: float(value) for key, value in rows}
    return out


def gc_pauses(stack: harness.Stack) -> dict[str, GcPauses]:
    out: dict[str, GcPauses] = {}
    for name, values in scrape(stack, (_GC,)).items():
        count = values.get(f"{_GC}_count", 0.0)
        within = values.get(f'{_GC}_bucket{{le="0.05"}}', count)
        out[name] = GcPauses(count=count, seconds=values.get(f"{_GC}_sum", 0.0), over_50ms=count - within)
    return out


_HEAP = {  # apps/core/memory.py: a leak grows in use or Python blocks; malloc's held memory grows "free"
    'desk_malloc_bytes{state="in_use"}': "malloc in use",
    'desk_malloc_bytes{state="free"}': "malloc free",
    "desk_python_allocated_blocks": "Python blocks",
    "desk_process_threads": "threads",
}


def heap(stack: harness.Stack) -> dict[str, dict[str, float]]:
    """Where each process's memory is (see _HEAP), to tell a leak from memory malloc holds."""
    return {
        name: {label: values[key] for key, label in _HEAP.items() if key in values}
        for name, values in scrape(stack, tuple({key.split("{")[0] for key in _HEAP})).items()
    }
