"""Fault scenarios: run the desk under load, inject one fault, then check every message's fate.

    python bench/faults.py                      # every scenario, 300 messages each at 20 msg/s
    python bench/faults.py worker-sigkill redis-restart --messages 600 --rate 30
    python bench/faults.py --list

Each scenario sends its messages through a real channel (the simulator's page API and websocket,
or signed and encrypted Official Account callbacks to a fake WeChat API), injects its fault part
way through, waits for the desk to settle, and classifies every message (bench/tally.py): answered
exactly once, or handed to a human with the customer told. Duplicates and losses fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import harness, oa_peer, seed  # noqa: E402
from bench.crowd import Crowd, drive  # noqa: E402
from bench.scenario import Run, run_prefix  # noqa: E402
from bench.tally import Tally, tally, wait_settled  # noqa: E402

Inject = Callable[[Run, float], str]  # (run, seconds of sending) -> what was done


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    inject: Inject
    at: float = 0.4  # fraction of the messages sent before the fault
    channel: str = "simulator"
    run: dict[str, object] = field(default_factory=dict)


@dataclass
class Outcome:
    scenario: Scenario
    tally: Tally
    injected: str
    seconds: float
    extra: dict[str, object] = field(default_factory=dict)


# -- seeding (runs in a child process with Django on the run's database) ----------------------


def seed_llm(urls: list[str]) -> None:
    seed.llm_endpoints(urls, total_timeout_s=4.0)
    seed.moderation(terms=500)


def seed_oa(urls: list[str]) -> None:
    seed_llm(urls)
    seed.official_account(app_id=oa_peer.APP_ID, token=oa_peer.TOKEN, aes_key=oa_peer.AES_KEY)


# -- the faults ----------------------------------------------------------------------------------


def kill_workers(run: Run, span_s: float) -> str:
    assert run.stack is not None
    for name in ("llm", "worker"):
        run.stack.procs[name].kill(signal.SIGKILL)  # mid-call: LLM streams and deliveries in flight
    # The stack's supervisor starts them again, as compose's restart policy does.
    return "SIGKILL of both Celery workers with calls in flight; restarted by the supervisor"


def restart_redis(run: Run, span_s: float) -> str:
    assert run.redis is not None
    run.redis.restart(down_s=3.0)
    return "Redis killed, down 3 s, restarted empty (no persistence: queued tasks and channel groups gone)"


def restart_postgres(run: Run, span_s: float) -> str:
    assert run.postgres is not None
    run.postgres.restart(down_s=3.0)
    return "Postgres crash-stopped (pg_ctl -m immediate), down 3 s, restarted"


def llm_errors_hang_recover(run: Run, span_s: float) -> str:
    llm, phase = run.llms[0], round(span_s * 0.2, 1)
    llm.behave(mode="error", status=500)
    time.sleep(phase)
    llm.behave(mode="hang")
    time.sleep(phase)
    llm.behave(mode="content")
    return f"the only endpoint answers HTTP 500 for {phase:g} s, then hangs for {phase:g} s, then recovers"


def one_endpoint_down(run: Run, span_s: float) -> str:
    run.llms[0].proc.kill(signal.SIGKILL)
    return "endpoint 1 of 2 killed (connection refused) for the rest of the run"


def drop_websocket_events(run: Run, span_s: float) -> str:
    # Emptying the channel layer's Redis DB drops every group membership and every queued event:
    # the desk goes on delivering, and no nudge reaches any open page until it reconnects.
    client = redis.Redis.from_url(f"{run.env.get('REDIS_URL', 'redis://127.0.0.1:6379')}/"
                                  f"{run.env['REDIS_CHANNELS_DB']}")  # fmt: skip
    until = time.monotonic() + span_s * 0.6
    while time.monotonic() < until:
        client.flushdb()
        time.sleep(0.25)
    return f"channel layer emptied every 250 ms for {span_s * 0.6:.0f} s: nudges and group memberships lost"


def webhook_retries(run: Run, span_s: float) -> str:
    return "every OA callback delivered 3 times (two copies at once, a third 1 s later), signed and AES-encrypted"


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("worker-sigkill", "worker killed with SIGKILL mid-call", kill_workers),
        Scenario("redis-restart", "Redis restarted under load", restart_redis, run={"private_redis": True}),
        Scenario("postgres-restart", "Postgres restarted", restart_postgres, run={"private_postgres": True}),
        Scenario("llm-500-hang-recover", "LLM returns 500s, hangs, recovers", llm_errors_hang_recover, at=0.3),
        Scenario("endpoint-down", "one of two endpoints down", one_endpoint_down, at=0.3, run={"llm_count": 2}),
        Scenario("webhook-retries", "WeChat retries every webhook x3", webhook_retries, channel="official_account"),
        Scenario("websocket-drops", "websocket layer drops events", drop_websocket_events, at=0.2),
    ]
}


# -- running one -----------------------------------------------------------------------------------


class Injector(threading.Thread):
    """Injects the fault ``at`` the given fraction of the sending, counted from the first message."""

    def __init__(self, run: Run, scenario: Scenario, span_s: float) -> None:
        super().__init__(daemon=True)
        self.run_, self.scenario, self.span_s = run, scenario, span_s
        self.note = ""

    def run(self) -> None:
        time.sleep(self.scenario.at * self.span_s)
        self.note = self.scenario.inject(self.run_, self.span_s)


def run_scenario(scenario: Scenario, *, messages: int, rate: float, customers: int, keep: bool = False) -> Outcome:
    base_env = harness.production_env()
    run = Run(name=scenario.name, **scenario.run)  # type: ignore[arg-type]
    fake = None
    if scenario.channel == "official_account":
        fake = oa_peer.start_fake_wechat()
        base_env["WECHAT_OA_API_BASE_URL"] = fake.url
    started, ok = time.monotonic(), False
    try:
        run.open(base_env, queue_prefix="fault", redis_db=13)  # not 10-12: the test settings use those
        run.seed("seed_oa" if fake else "seed_llm")
        stack = run.start()
        prefix = run_prefix()
        injector = Injector(run, scenario, messages / rate)

        def settled() -> None:
            injector.join()
            wait_settled(run.dsn, channel=scenario.channel, prefix=_prefix(scenario, prefix), expected=messages,
                         timeout=120, check=stack.check_alive)  # fmt: skip

        extra: dict[str, object] = {}
        if fake is not None:
            send = oa_peer.send_all(stack.url, fake, prefix=prefix, messages=messages, rate=rate,
                                    customers=customers, then=settled, connected=injector.start)  # fmt: skip
            callbacks = asyncio.run(send)
            extra = callbacks.customer_view(fake)
            keys, seen = list(callbacks.senders), None
        else:
            crowd = Crowd(stack.url, customers=customers, prefix=prefix)
            asyncio.run(drive(crowd, rate=rate, messages=messages, connected=injector.start, until=settled,
                              resync_at_end=True))  # fmt: skip
            keys = list(crowd.sent)
            seen = {inbound: len(replies) for inbound, replies in crowd.seen.items()}
            extra = {"customer saw a reply": sum(1 for replies in crowd.seen.values() if replies),
                     "HTTP errors (retried)": crowd.http_errors}  # fmt: skip
        result = tally(run.dsn, channel=scenario.channel, prefix=_prefix(scenario, prefix), keys=keys,
                       seen_replies=seen)  # fmt: skip
        extra["statuses"] = dict(Counter(row.status for row in result.rows))
        if restarts := stack.restarts():
            extra["restarted after a crash"] = restarts
        if fake is not None:
            result.duplicated += int(extra.get("duplicate sends", 0))  # type: ignore[call-overload]
        ok = True
        return Outcome(scenario, result, injector.note, time.monotonic() - started, extra)
    finally:
        run.close(show_logs=not ok, keep=keep)


def _prefix(scenario: Scenario, prefix: str) -> str:
    return oa_peer.key_prefix(prefix) if scenario.channel == "official_account" else prefix


def print_table(outcomes: list[Outcome]) -> None:
    print("\n| scenario | fault injected | sent | answered once | duplicated | lost | handed over | time |")
    print("|---|---|---|---|---|---|---|---|")
    for o in outcomes:
        t = o.tally
        print(f"| {o.scenario.title} | {o.injected} | {t.sent} | {t.answered_once} | {t.duplicated} | {t.lost} | "
              f"{t.handed_over} | {o.seconds:.0f} s |")  # fmt: skip
    for o in outcomes:
        details = ", ".join(f"{k}: {v}" for k, v in o.extra.items())
        lost = f"; lost: {dict(o.tally.lost_detail)}" if o.tally.lost_detail else ""
        print(f"  {o.scenario.name}: {details}{lost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help="names (default: all)")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep each run's database and logs")
    args = parser.parse_args()
    if args.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:<22} {scenario.title}")
        return
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    outcomes = []
    for name in args.scenarios or list(SCENARIOS):
        print(f"== {name}: {SCENARIOS[name].title}", flush=True)
        outcome = run_scenario(
            SCENARIOS[name], messages=args.messages, rate=args.rate, customers=args.customers, keep=args.keep
        )
        print(f"   {outcome.tally.line()}  ({outcome.seconds:.0f} s)", flush=True)
        outcomes.append(outcome)
    print_table(outcomes)
    failed = [o.scenario.name for o in outcomes if not o.tally.ok]
    raise SystemExit(f"FAULTS FAILED: {', '.join(failed)}" if failed else 0)


if __name__ == "__main__":
    main()
