"""Message spine benchmark: inbound HTTP -> process_inbound -> reply -> deliver, end to end.

Starts the real stack (uvicorn + a Celery worker) on a database, Redis DBs and queue of its
own, drives N customer messages through POST /api/inbound/messages, waits until every one is
answered and its reply delivered, checks there is exactly one reply each, and prints
throughput and latencies next to the raw Redis and Postgres round trips the spine is built on.

    python bench/spine.py [--messages 2000] [--concurrency 32] [--customers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "desk_bench"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
TOKEN = "local-dev-inbound-token"  # DESK_INBOUND_API_TOKEN of project.settings.local
ISOLATION = {"REDIS_CACHE_DB": "6", "REDIS_BROKER_DB": "7", "REDIS_CHANNELS_DB": "8", "CELERY_QUEUE_PREFIX": "bench"}
TABLES = "conversations_message, conversations_conversation, conversations_customer"
PG_COUNTERS = "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = %s"


def child_env(settings_module: str) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in ISOLATION.items():
        env.setdefault(name, value)
    # The spine's own cost: placeholder steps unless the caller names real ones.
    env.setdefault("DESK_ANSWERER", "apps.conversations.placeholders.EchoAnswerer")
    env.setdefault("DESK_MODERATOR", "apps.conversations.placeholders.AllowAllModerator")
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        DJANGO_DEBUG="false",
        DESK_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def pg(dbname: str = DB_NAME) -> psycopg.Connection:
    return psycopg.connect(f"{PG_DSN} dbname={dbname}", autocommit=True)


def prepare(env: dict[str, str]) -> None:
    with pg("postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    with pg() as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    for key in ("REDIS_CACHE_DB", "REDIS_BROKER_DB", "REDIS_CHANNELS_DB"):
        # These DBs belong to the bench alone; tasks left by an aborted run would skew this one.
        redis.Redis.from_url(f"{redis_url(env)}/{env[key]}").flushdb()


def redis_url(env: dict[str, str]) -> str:
    return env.get("REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        log = tempfile.NamedTemporaryFile(prefix=f"spine-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        # A session of its own: Ctrl-C reaches only the bench, which then stops the stack in order.
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc, log))

    def check_alive(self) -> None:
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{Path(log.name).read_text()[-3000:]}")

    def cpu_seconds(self) -> dict[str, float]:
        """User+system CPU each process has used so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for name, proc, _ in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / ticks
        return used

    def stop(self, *, show_logs: bool) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc, log in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 15 s; killing it", file=sys.stderr)
                proc.kill()
                proc.wait()
            log.close()
            if show_logs:
                print(f"--- {name} log (tail) ---\n{Path(log.name).read_text()[-4000:]}", file=sys.stderr)
            os.unlink(log.name)


async def send_messages(base: str, ids: list[str], customers: int, concurrency: int, rate: float = 0) -> list[float]:
    """POST every message through the inbound API (at most `rate` per second if set); returns ack latencies (ms)."""
    ack_ms: list[float] = []
    errors: list[str] = []
    pending = list(enumerate(ids))
    pending.reverse()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
        start = time.perf_counter()

        async def worker() -> None:
            while pending:
                index, message_id = pending.pop()
                if rate:
                    await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
                customer = index % customers
                payload = {
                    "channel": "simulator",
                    "channel_message_id": message_id,
                    "external_user_id": f"bench-customer-{customer}",
                    "display_name": f"顾客{customer}",
                    "text": f"你好，我想问一下订单 {index} 什么时候发货？",
                }
                started = time.perf_counter()
                response = await client.post("/api/inbound/messages", json=payload)
                ack_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 202:
                    errors.append(f"{message_id}: HTTP {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if errors:
        raise SystemExit(f"SPINE BENCH FAILED: {len(errors)} HTTP errors, first: {errors[0]}")
    return ack_ms


@dataclass
class Outcome:
    created_at: float
    claimed_at: float
    answered_at: float
    delivered_at: float
    status: str
    answer_ms: int
    replies: int
    delivered: int


OUTCOME_SQL = """
SELECT EXTRACT(EPOCH FROM i.created_at)::float8,
       coalesce(EXTRACT(EPOCH FROM i.processing_started_at), 0)::float8,
       coalesce(EXTRACT(EPOCH FROM i.answered_at), 0)::float8,
       coalesce(EXTRACT(EPOCH FROM max(r.delivered_at)), 0)::float8,
       i.status, coalesce(i.answer_ms, 0), count(r.id), count(r.id) FILTER (WHERE r.status = 'delivered')
FROM conversations_message i LEFT JOIN conversations_message r ON r.reply_to_id = i.id
WHERE i.direction = 'in' AND i.channel_message_id LIKE %s
GROUP BY i.id
"""


def wait_delivered(prefix: str, expected: int, timeout: float, stack: Stack) -> list[Outcome]:
    """Poll Postgres until every message is answered and delivered, then check there are no extras."""
    deadline = time.monotonic() + timeout
    with pg() as conn:
        while True:
            rows = [Outcome(*row) for row in conn.execute(OUTCOME_SQL, (f"{prefix}%",)).fetchall()]
            done = sum(1 for row in rows if row.status == "answered" and row.delivered >= 1)
            if done == expected or time.monotonic() > deadline:
                break
            stack.check_alive()
            time.sleep(0.25)
    problems = []
    if len(rows) != expected:
        problems.append(f"{len(rows)} inbound messages stored, expected {expected}")
    if not_answered := [row.status for row in rows if row.status != "answered"]:
        problems.append(f"{len(not_answered)} inbound not answered (statuses: {sorted(set(not_answered))})")
    if missing := sum(1 for row in rows if row.delivered == 0):
        problems.append(f"{missing} inbound without a delivered reply")
    if duplicated := sum(1 for row in rows if row.replies != 1):
        problems.append(f"{duplicated} inbound with other than exactly one reply")
    if problems:
        raise SystemExit("SPINE BENCH FAILED: " + "; ".join(problems))
    return rows


def wait_http(base: str, stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base}/healthz did not answer in {timeout:.0f} s")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def baseline_redis(env: dict[str, str], rounds: int = 2000) -> list[float]:
    client = redis.Redis.from_url(f"{redis_url(env)}/{env['REDIS_CACHE_DB']}")
    key = f"spine-bench-baseline-{uuid.uuid4().hex}"
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.lpush(key, b"x")
        client.brpop([key], timeout=1)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def baseline_postgres(rounds: int = 2000) -> list[float]:
    with pg() as conn:
        conn.execute("CREATE TEMP TABLE spine_baseline (id bigserial PRIMARY KEY, body text, at timestamptz)")
        timings = []
        for index in range(rounds):
            started = time.perf_counter()
            conn.execute("INSERT INTO spine_baseline (body, at) VALUES (%s, now())", (f"row {index}",))
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def pg_counters() -> tuple[int, int]:
    with pg() as conn:
        row = conn.execute(PG_COUNTERS, (DB_NAME,)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def run(args: argparse.Namespace) -> None:
    n, concurrency, customers = args.messages, args.concurrency, args.customers
    env = child_env(args.settings)
    os.environ.update({name: env[name] for name in ISOLATION})
    # Django under ASGI runs each sync view in a fresh thread, so persistent connections are never
    # reused there and pile up until Postgres refuses clients (docs/benchmarks.md, "Spine").
    web_env = {**env, "DATABASE_CONN_MAX_AGE": args.web_conn_max_age}
    print(f"preparing {DB_NAME} (migrate, truncate), Redis DBs {env['REDIS_CACHE_DB']}-{env['REDIS_CHANNELS_DB']}")
    prepare(env)
    base, bin_dir, stack, ok = f"http://127.0.0.1:{free_port()}", Path(sys.executable).parent, Stack(), False
    try:
        stack.start("web", [str(bin_dir / "uvicorn"), "project.asgi:application", "--port", base.rsplit(":", 1)[1],
                            "--log-level", "warning", "--no-access-log"], web_env)  # fmt: skip
        stack.start("worker", [str(bin_dir / "celery"), "-A", "project", "worker", "--pool", "threads",
                               "--concurrency", "16", "--queues", f"{env['CELERY_QUEUE_PREFIX']}.default",
                               "-l", "WARNING", "--without-gossip", "--without-mingle"], env)  # fmt: skip
        stack.start("llm", [str(bin_dir / "celery"), "-A", "project", "worker", "--pool", "threads",
                            "--concurrency", "64", "--queues", f"{env['CELERY_QUEUE_PREFIX']}.llm",
                            "--hostname", "llm@%h", "-l", "WARNING", "--without-gossip", "--without-mingle"],
                    env)  # fmt: skip
        wait_http(base, stack)
        # A warm-up answered end to end proves the worker consumes our queue, and fills pools and caches.
        warm = f"warm-{uuid.uuid4().hex[:8]}-"
        asyncio.run(send_messages(base, [f"{warm}{i}" for i in range(concurrency)], customers, concurrency))
        wait_delivered(warm, concurrency, 120, stack)
        print(f"stack up at {base}; warm-up of {concurrency} messages answered and delivered")

        prefix = f"bench-{uuid.uuid4().hex[:8]}-"
        cpu_before, pg_before, started = stack.cpu_seconds(), pg_counters(), time.perf_counter()
        ack_ms = asyncio.run(send_messages(base, [f"{prefix}{i}" for i in range(n)], customers, concurrency, args.rate))
        send_s = time.perf_counter() - started
        rows = wait_delivered(prefix, n, args.timeout, stack)
        cpu_after = stack.cpu_seconds()
        time.sleep(1.0)  # backends report their statistics to pg_stat_database about once a second
        pg_after = pg_counters()
        ok = True
    finally:
        stack.stop(show_logs=not ok)

    redis_ms, insert_ms = baseline_redis(env), baseline_postgres()
    span = max(row.delivered_at for row in rows) - min(row.created_at for row in rows)
    added_ms = [(row.delivered_at - row.created_at) * 1000 - row.answer_ms for row in rows]
    stages = {
        "received -> claimed": [row.claimed_at - row.created_at for row in rows],
        "claimed -> answered": [row.answered_at - row.claimed_at for row in rows],
        "answered -> delivered": [row.delivered_at - row.answered_at for row in rows],
    }
    cpu = "   ".join(f"{name} {(cpu_after[name] - cpu_before[name]) * 1000 / n:.1f} ms" for name in cpu_after)
    offered = f"offered {args.rate:g} msg/s" if args.rate else "open throttle"
    print(f"\nspine: {n} messages, {customers} customers, HTTP concurrency {concurrency} ({offered}), 16 worker thr.")
    print(f"  throughput end to end : {n / span:8.1f} msg/s (first inbound in, last reply out: {span:.1f} s)")
    print(f"  HTTP ingest           : {n / send_s:8.1f} msg/s ({send_s:.2f} s)")
    print(f"  HTTP ack latency      : P50 {pct(ack_ms, 50):8.1f} ms   P99 {pct(ack_ms, 99):8.1f} ms")
    print(f"  app-added latency     : P50 {pct(added_ms, 50):8.1f} ms   P99 {pct(added_ms, 99):8.1f} ms   "
          f"max {max(added_ms):.1f} ms   (reply delivered_at - inbound created_at - answer_ms)")  # fmt: skip
    for stage, seconds in stages.items():
        print(f"    {stage:<21}: P50 {pct(seconds, 50) * 1000:8.1f} ms   P99 {pct(seconds, 99) * 1000:8.1f} ms")
    print(f"  answerer time         : max {max(row.answer_ms for row in rows)} ms ({env['DESK_ANSWERER']})")
    print(f"  CPU per message       : {cpu}   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  Postgres per message  : {(pg_after[0] - pg_before[0]) / n:.2f} new connections, "
          f"{(pg_after[1] - pg_before[1]) / n:.1f} commits")  # fmt: skip
    redis_p50, insert_p50, added_p50 = statistics.median(redis_ms), statistics.median(insert_ms), pct(added_ms, 50)
    print("baseline (same run, after the stack stopped, one client, sequential):")
    print(f"  Redis LPUSH+BRPOP     : P50 {redis_p50:8.3f} ms   P99 {pct(redis_ms, 99):8.3f} ms")
    print(f"  Postgres 1-row INSERT : P50 {insert_p50:8.3f} ms   P99 {pct(insert_ms, 99):8.3f} ms (autocommit)")
    print(f"  app-added P50 = {added_p50 / redis_p50:,.0f}x Redis round trip, {added_p50 / insert_p50:,.0f}x PG insert")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a TERM (CI timeout, kill) stops the stack like Ctrl-C does


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0, help="offered load in msg/s (default: open throttle)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for all replies")
    parser.add_argument("--web-conn-max-age", default="0", help="DATABASE_CONN_MAX_AGE of the web process")
    parser.add_argument("--settings", default="project.settings.local", help="DJANGO_SETTINGS_MODULE of the stack")
    try:
        run(parser.parse_args())
    except KeyboardInterrupt:
        raise SystemExit("interrupted; stack stopped") from None


if __name__ == "__main__":
    main()
