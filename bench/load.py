"""Load: simulated customers through a real channel against the whole desk on this box.

    python bench/load.py [--rate 50] [--seconds 60] [--customers 600] [--latency 2] [--channel simulator]
    python bench/load.py --rate 20 --seconds 3600        # the soak: memory at 5, 30, 60 min
    python bench/load.py --stack-cpus 0,1 --bench-cpus 2,3   # where the box has more cores

Starts web (uvicorn, ASGI), the default and llm Celery workers and beat, on a Postgres cluster and a
Redis server of the run's own (bench/loadenv.py: so their CPU is the desk's alone), the real
moderator (2000-term blacklist + semantic rules on m3e-small) and the real answerer (knowledge
search, then the LLM pool) against a local OpenAI-compatible server that streams each answer after
a set latency. Customers write at a fixed rate:
- official_account (default, WeChat's own path): callbacks signed and AES-encrypted as WeChat's
  servers send them; replies go out through custom-send to a local fake of WeChat's API, which
  notes when each arrives;
- simulator: customers hold the simulator page's websocket and read replies as the page does.
At the end every message must have been answered exactly once.

Prints sustained msg/s, app-added latency P50/P95/P99 (end to end minus the LLM call's own time),
LLM calls in flight, errors, CPU per message per process (the desk's and the bench's apart), memory
and connections at checkpoints with their growth (a run of 10 min or more fails on more than 10 % after
the first checkpoint) and, per process, where the memory is (malloc in use and kept free, Python's
blocks, threads: a leak or held memory), and table and index sizes per million messages.
Goal on 2 cores: >= 50 msg/s, app-added P99 <= 100 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness, loadenv, oa_peer, profile, seed  # noqa: E402
from bench.crowd import Crowd, drive  # noqa: E402
from bench.harness import pct  # noqa: E402
from bench.loadenv import Sampler  # noqa: E402
from bench.tally import Row, tally, wait_settled  # noqa: E402
from peers.fake_wechat import FakeWeChat  # noqa: E402

DB_NAME = "desk_load"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
ISOLATION = {"REDIS_CACHE_DB": "9", "REDIS_BROKER_DB": "9", "REDIS_CHANNELS_DB": "9", "CELERY_QUEUE_PREFIX": "load"}


def stack_env(args: argparse.Namespace) -> dict[str, str]:
    # Every question is new, so the answer cache only adds a miss; it stays on (a miss is real work).
    return harness.production_env(
        **ISOLATION,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        DESK_GC_FREEZE="true" if args.gc_freeze == "on" else "false",
        DESK_METRICS_TOKEN="bench-load-metrics-token-of-this-run-only",  # noqa: S106
    )


def error_lines(stack: harness.Stack) -> dict[str, int]:
    counts = {}
    for name, proc in stack.procs.items():
        text = proc.log_path.read_text(errors="replace") if proc.log_path else ""
        counts[name] = sum(1 for line in text.splitlines() if " ERROR" in line or line.startswith("Traceback"))
    return counts


@dataclass
class Measured:
    """What the customers' side saw, whichever channel carried the messages."""

    prefix: str  # of every key: what the tally selects on
    keys: list[str]
    customer_ms: dict[int | str, float]  # inbound id or channel_message_id -> seconds from send to reply seen
    http_errors: int
    notes: str
    first_contacts: int = 0  # messages that were their customer's first to the desk
    run_prefix: str = ""  # official_account: whose customers a --returning run sends again


def report(
    args: argparse.Namespace, measured: Measured, rows: list[Row], sampler: Sampler, errors: dict[str, int]
) -> None:
    answered = [r for r in rows if r.status == "answered" and r.delivered == 1]
    span = max(r.delivered_at for r in answered) - min(r.created_at for r in answered)
    added_ms = [(r.delivered_at - r.created_at) * 1000 - r.llm_ms for r in answered]
    seen_ms = [
        measured.customer_ms[key] * 1000 - r.llm_ms
        for r in answered
        for key in (r.id, r.key)
        if key in measured.customer_ms
    ]
    peak = {name: max(sample.get(name, 0.0) for sample in sampler.rss) for name in sampler.rss[0]}
    first, last = sampler.rss[0], sampler.rss[-1]
    print(f"\nload: {len(measured.keys)} messages via {args.channel} from {args.customers} customers at "
          f"{args.rate:g} msg/s ({args.seconds:g} s); LLM {args.latency:g} s to first token, streamed")  # fmt: skip
    share = measured.first_contacts / max(len(measured.keys), 1)
    print(f"  first contacts         : {measured.first_contacts} of {len(measured.keys)} messages ({share:.0%}): "
          f"a new customer costs more (customer, conversation, profile fetch); --returning measures none")  # fmt: skip
    # Output rate: replies out per second between the first and the last (a fixed LLM latency shifts
    # both ends alike, so it measures what the desk keeps up with); first in -> last out divides by
    # the offered seconds plus that latency, so it stays under the offered rate even with no backlog.
    first_out, last_out = min(r.delivered_at for r in answered), max(r.delivered_at for r in answered)
    behind = last_out - max(r.created_at for r in answered)
    print(f"  sustained throughput   : {(len(answered) - 1) / (last_out - first_out):7.1f} msg/s delivered "
          f"(first out -> last out {last_out - first_out:.1f} s); {len(answered) / span:.1f} msg/s first in -> "
          f"last out ({span:.1f} s); last reply {behind:.1f} s after the last message")  # fmt: skip
    print(f"  app-added latency      : P50 {pct(added_ms, 50):6.1f} ms  P95 {pct(added_ms, 95):6.1f} ms  "
          f"P99 {pct(added_ms, 99):6.1f} ms  max {max(added_ms):.0f} ms  (delivered - received - LLM)")  # fmt: skip
    print(f"  as the customer saw it : P50 {pct(seen_ms, 50):6.1f} ms  P95 {pct(seen_ms, 95):6.1f} ms  "
          f"P99 {pct(seen_ms, 99):6.1f} ms  ({len(seen_ms)} replies: reply seen - sent - LLM call)")  # fmt: skip
    stages = {
        "received -> claimed": [(r.claimed_at - r.created_at) * 1000 for r in answered],
        "answerer minus LLM call": [r.answer_ms - r.llm_ms for r in answered],
        "rest of processing": [(r.answered_at - r.claimed_at) * 1000 - r.answer_ms for r in answered],
        "answered -> delivered": [(r.delivered_at - r.answered_at) * 1000 for r in answered],
    }
    for stage, values in stages.items():
        print(f"    {stage:<23}: P50 {pct(values, 50):6.1f} ms  P95 {pct(values, 95):6.1f} ms  "
              f"P99 {pct(values, 99):6.1f} ms")  # fmt: skip
    print(f"  LLM call (client side) : P50 {pct([r.llm_ms for r in answered], 50):6.0f} ms")
    print(f"  LLM calls in flight    : mean {sum(sampler.in_flight) / max(len(sampler.in_flight), 1):.0f}, "
          f"peak {sampler.peak_in_flight}")  # fmt: skip
    print(f"  errors                 : HTTP {measured.http_errors}, ERROR log lines {errors}; {measured.notes}")
    print("  memory (RSS, MB)       : " + ", ".join(
        f"{name} {first[name]:.0f} -> {last[name]:.0f} (peak {peak[name]:.0f})" for name in peak))  # fmt: skip
    print(f"  load average           : {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def drive_simulator(args: argparse.Namespace, stack: harness.Stack, connected: Callable[[], None],
                    until: Callable[[str], None]) -> Measured:  # fmt: skip
    crowd = Crowd(stack.url, customers=args.customers, prefix=f"l{uuid.uuid4().hex[:6]}")
    total = int(args.rate * args.seconds)
    asyncio.run(drive(crowd, rate=args.rate, messages=total, connected=connected, until=lambda: until(crowd.prefix)))
    sent_at = {s.inbound_id: s.sent_at for s in crowd.sent.values() if s.inbound_id}
    seen: dict[int | str, float] = {
        inbound: min(s.seen_at for s in replies.values()) - sent_at[inbound]
        for inbound, replies in crowd.seen.items()
        if inbound in sent_at and replies
    }
    notes = f"websocket reconnects {crowd.ws_reconnects}"
    return Measured(crowd.prefix, list(crowd.sent), seen, crowd.http_errors, notes, min(args.customers, total))


def drive_official_account(args: argparse.Namespace, stack: harness.Stack, fake: FakeWeChat,
                           connected: Callable[[], None], until: Callable[[str], None]) -> Measured:  # fmt: skip
    prefix = f"l{uuid.uuid4().hex[:6]}"
    total = int(args.rate * args.seconds)
    keys = oa_peer.key_prefix(prefix)
    returning = getattr(args, "customers_of", "")
    send = oa_peer.send_all(stack.url, fake, prefix=prefix, messages=total, rate=args.rate, customers=args.customers,
                            then=lambda: until(keys), copies=(0.0,), retries=2, connected=connected,
                            customers_of=returning)  # fmt: skip
    callbacks = asyncio.run(send)
    failed = sum(n for ack, n in callbacks.acks.items() if ack != "success")
    acks = (
        f"callback ack P50 {pct(callbacks.ack_ms, 50):.1f} ms, P99 {pct(callbacks.ack_ms, 99):.1f} ms (WeChat: 5 s); "
        f"retried as WeChat does {callbacks.retried}, given up after 3 tries {callbacks.given_up}"
    )
    delays: dict[int | str, float] = {key: value for key, value in callbacks.reply_delays(fake).items()}
    first = 0 if returning else len(set(callbacks.senders.values()))
    return Measured(keys, list(callbacks.senders), delays, failed, acks, first, run_prefix=prefix)


def run(args: argparse.Namespace) -> int:
    if args.returning and args.channel != "official_account":
        raise SystemExit("--returning needs --channel official_account")
    stack_cores, bench_cores = loadenv.cpu_list(args.stack_cpus), loadenv.cpu_list(args.bench_cpus)
    loadenv.pin_self(bench_cores)  # first: the threads and processes the bench starts inherit it
    env = stack_env(args)
    services = None if args.shared_services else loadenv.Services(stack_cores)
    dsn_base = PG_DSN
    if services is not None:
        print(f"starting Postgres and Redis of this run's own (cores {args.stack_cpus or 'any'})")
        services.start()
        env.update(services.env(DB_NAME))
        dsn_base = f"host=127.0.0.1 port={services.postgres.port} user=postgres"
    fake = oa_peer.start_fake_wechat() if args.channel == "official_account" else None
    if fake is not None:
        env["WECHAT_OA_API_BASE_URL"] = fake.url
    os.environ.update(env)
    meter = loadenv.CpuMeter(services)
    try:
        return measure_run(args, env, fake, dsn_base, stack_cores, meter)
    finally:
        if services is not None:
            services.stop()


def measure_run(args: argparse.Namespace, env: dict[str, str], fake: FakeWeChat | None, dsn_base: str,
                stack_cores: list[int], meter: loadenv.CpuMeter) -> int:  # fmt: skip
    print(f"preparing {DB_NAME} (migrate, empty)")
    harness.database_prepare(dsn=dsn_base, name=DB_NAME, env=env)
    import django
    import redis

    if args.shared_services:
        for key in ("REDIS_CACHE_DB", "REDIS_BROKER_DB", "REDIS_CHANNELS_DB"):
            redis.Redis(db=int(env[key])).flushdb()
    django.setup()
    llm = harness.FakeLLM(latency_s=args.latency, chunk_delay_s=args.chunk_delay)
    llm.start()
    seed.llm_endpoints([llm.url])
    seed.moderation()
    seed.knowledge()
    seed.official_account(app_id=oa_peer.APP_ID, token=oa_peer.TOKEN, aes_key=oa_peer.AES_KEY)
    stack = harness.Stack(
        env=env,
        llm_concurrency=args.llm_concurrency,
        llm_processes=args.llm_processes,
        worker_nice=args.worker_nice,
        cores=stack_cores,
        metrics=True,  # each process's full garbage collections, from its metrics port
    )
    ok = False
    dsn = f"{dsn_base} dbname={DB_NAME}"
    total = int(args.rate * args.seconds)
    cpu_before: dict[str, float] = {}
    checkpoints = (*(m for m in (5, 30, 60) if m * 60 < args.seconds), args.seconds / 60)
    redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379")
    sampler = Sampler(stack, llm, dsn=dsn, redis_url=redis_url, meter=meter, checkpoints=checkpoints)

    def cpu_now() -> dict[str, float]:
        used = harness.cpu_seconds(stack, {"llm server": llm.proc})
        if meter.services is not None:  # the run's own servers, not the box's shared ones
            used.update({f"{name} (own)": value for name, value in meter.totals().items()})
            del used["postgres"], used["redis-server"]
        return used

    recorder: profile.Recorder | None = None

    sizes_before: dict[str, tuple[int, int]] = {}
    gc_before: dict[str, loadenv.GcPauses] = {}
    gc_during: dict[str, loadenv.GcPauses] = {}

    def connected() -> None:
        # The customers are connected: from here on, the CPU is what the messages cost.
        nonlocal recorder
        sizes_before.update(loadenv.table_sizes(dsn))
        gc_before.update(loadenv.gc_pauses(stack))
        cpu_before.update(cpu_now())
        sampler.mark()
        if args.profile:
            # A few seconds in, past the ramp-up: py-spy samples while the load is steady.
            pids = {name: proc.popen.pid for name, proc in stack.procs.items() if proc.popen and name != "beat"}
            seconds = max(5.0, min(args.profile_seconds, args.seconds - 6))
            recorder = profile.Recorder(Path(args.profile), pids, seconds, gil=not args.profile_all_threads)
            threading.Timer(3.0, recorder.start).start()

    def until(count: int) -> Callable[[str], None]:
        def wait(prefix: str) -> None:
            wait_settled(dsn, channel=args.channel, prefix=prefix, expected=count, timeout=180, check=stack.check_alive)

        return wait

    def measure(count: int, rate: float, seconds: float, start: Callable[[], None]) -> Measured:
        sub = argparse.Namespace(**{**vars(args), "rate": rate, "seconds": seconds})
        if fake is not None:
            return drive_official_account(sub, stack, fake, start, until(count))
        return drive_simulator(sub, stack, start, until(count))

    try:
        stack.start()
        warm = measure(40, 10, 4, lambda: None)  # loads the models and fills every pool before measuring
        print(f"stack up at {stack.url}; warm-up: {len(warm.keys)} messages answered")
        if args.returning:
            # Every customer writes once, unmeasured: the measured messages are all returning customers'.
            first = measure(args.customers, args.rate, args.customers / args.rate, lambda: None)
            args.customers_of = first.run_prefix
            print(f"returning customers: {len(first.keys)} first messages answered before measuring")
        sampler.start()  # from before the customers connect: memory with 600 websockets is part of the figure
        measured = measure(total, args.rate, args.seconds, connected)
        cpu_after = cpu_now()
        gc_during.update(
            {n: p.since(gc_before.get(n, loadenv.GcPauses())) for n, p in loadenv.gc_pauses(stack).items()}
        )
        sampler.done.set()
        cpu_ms = {name: (cpu_after[name] - cpu_before[name]) * 1000 / total for name in cpu_after}
        result = tally(dsn, channel=args.channel, prefix=measured.prefix, keys=measured.keys)
        errors = error_lines(stack)
        if recorder is not None:
            print(f"profile: {recorder.finish()}")
        if not sampler.snapshots or sampler.snapshots[-1].minute < args.seconds / 60:
            sampler.snapshots.append(sampler.snapshot())  # the end of the run, whatever the checkpoints caught
        ok = True
    finally:
        stack.stop(show_logs=not ok)
        llm.proc.stop()
    report(args, measured, result.rows, sampler, errors)
    bench_names = {"llm server", "bench (customers)"}
    desk_ms = sum(v for k, v in cpu_ms.items() if k not in bench_names)
    print("  CPU per message (ms)   : " + ", ".join(f"{name} {value:.1f}" for name, value in cpu_ms.items()))
    print(f"    desk (processes, Postgres, Redis): {desk_ms:.1f} ms; the bench's own customers and fakes: "
          f"{sum(v for k, v in cpu_ms.items() if k in bench_names):.1f} ms")  # fmt: skip
    pauses = ", ".join(f"{name} {p.count:.0f} ({p.seconds * 1000:.0f} ms in all, {p.over_50ms:.0f} over 50 ms)"
                       for name, p in gc_during.items())  # fmt: skip
    print(f"  full GC (gen 2)        : freeze {args.gc_freeze}; {pauses}")
    print(f"  outcome                : {result.line()}")
    storage = loadenv.storage_per_million(sizes_before, loadenv.table_sizes(dsn), total)
    growth_failed = print_soak(sampler, storage, soak=args.seconds >= 600)
    failed = not result.ok or measured.http_errors or any(errors.values()) or growth_failed
    print("LOAD FAILED" if failed else "load: every message answered exactly once, no errors")
    return 1 if failed else 0


def print_soak(sampler: Sampler, storage: list[str], *, soak: bool) -> bool:
    """Memory and connections at the checkpoints, storage per million messages; True if memory grew
    more than 10 % after the warm-up (the first checkpoint) in a run long enough to say so."""
    print("\n".join(["", "memory and connections:", *loadenv.growth_table(sampler.snapshots)]))
    print("\n".join(["", "storage:", *storage]))
    if not soak or len(sampler.snapshots) < 2:
        return False
    first, last = sampler.snapshots[0].rss_mb, sampler.snapshots[-1].rss_mb
    grown = {name: last[name] / first[name] - 1 for name in first if first[name] and last.get(name)}
    over = {name: f"{value:+.0%}" for name, value in grown.items() if value > 0.10}
    print(f"SOAK: RSS grew more than 10 % after warm-up: {over}" if over else "soak: no process grew more than 10 %")
    return bool(over)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second offered")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument(
        "--returning",
        action="store_true",
        help="every customer writes once before the measured run (official_account): no first contacts measured",
    )
    parser.add_argument("--latency", type=float, default=2.0, help="LLM seconds before the first token")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="LLM seconds between streamed chunks")
    parser.add_argument("--llm-concurrency", type=int, default=128, help="threads of each llm worker process")
    parser.add_argument("--llm-processes", type=int, default=2, help="llm worker processes (one per core)")
    parser.add_argument("--gc-freeze", choices=("on", "off"), default="on",
                        help="DESK_GC_FREEZE of the stack (off: the baseline of apps/core/gc_policy.py)")  # fmt: skip
    parser.add_argument("--worker-nice", type=int, default=10, help="nice level of the Celery workers (0: none)")
    parser.add_argument(
        "--stack-cpus", default="", help="cores for the desk, its Postgres and Redis (taskset), e.g. 0,1"
    )
    parser.add_argument("--bench-cpus", default="", help="cores for the customers and the fake servers, e.g. 2-3")
    parser.add_argument(
        "--shared-services",
        action="store_true",
        help="use the box's Postgres and Redis (their CPU then includes whatever else they serve)",
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy each desk process; top-N tables to DIR/top.md")
    parser.add_argument("--profile-seconds", type=float, default=25.0, help="how long py-spy samples (--profile)")
    parser.add_argument(
        "--profile-all-threads", action="store_true", help="--profile: every non-idle thread, not only the GIL's"
    )
    parser.add_argument(
        "--channel",
        choices=["official_account", "simulator"],
        default="official_account",
        help="signed, encrypted OA callbacks (WeChat's path) or the simulator page (websockets)",
    )
    try:
        raise SystemExit(run(parser.parse_args()))
    except KeyboardInterrupt:
        raise SystemExit("interrupted; stack stopped") from None


if __name__ == "__main__":
    main()
