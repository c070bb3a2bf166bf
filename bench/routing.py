"""Routing benchmark: 1,000 queued conversations, 200 online agents in 5 teams, one drain.

Creates (once) and migrates a database of its own (desk_bench_routing), empties the tables a run
fills, seeds the agents (capacity 4 each: 800 seats, so 200 customers are left waiting and the
full-team skip is exercised) and the queued conversations with their tickets (round robin over
the teams, 10 % without a team), then drains the queue in ``--threads`` threads at once, twice on
the same data (emptied and seeded again in between, ids included):

1. baseline: the single-ticket path, ticket_assign per waiting ticket as the drain did before
   batches (conversation lock, candidate query, agent row locks, the spine's record). Every
   assignment is timed.
2. the real drain, apps.routing.services.queue_drain, in batches of DESK_ROUTING_DRAIN_BATCH.
   Every batch (tickets_assign: one transaction, commit and after-commit nudges included) is
   timed; its cost per assignment is its time divided by the assignments it made.

Prints throughput and percentiles for both, and checks each run: no agent over capacity, no
conversation given twice, exactly min(seats, conversations) assignments, and (batched) the audit
chain verifies.

    python bench/routing.py [--conversations 1000] [--agents 200] [--capacity 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

DB_NAME = "desk_bench_routing"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
TEAMS = ("售后", "账单", "投诉", "物流", "会员")
TABLES = ", ".join(
    [
        "routing_queueticket",
        "routing_agentstatus",
        "routing_team_members",
        "routing_team",
        "console_conversationevent",
        "conversations_message",
        "conversations_conversation",
        "conversations_customer",
        "audit_auditlog",
        "auth_user_groups",
        "auth_user",
    ]
)


def child_env() -> dict[str, str]:
    return harness.django_child_env(DB_NAME)


def prepare() -> None:
    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=child_env(), check=True
    )
    with psycopg.connect(f"{PG_DSN} dbname={DB_NAME}", autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")


def seed(*, conversations: int, agents: int, capacity: int) -> None:
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from apps.conversations.models import Conversation, Customer
    from apps.routing.models import AgentStatus, QueueTicket, Team

    teams = [Team.objects.create(name=name) for name in TEAMS]
    users = User.objects.bulk_create(
        [User(username=f"agent{i:04d}", is_staff=True, password="!") for i in range(agents)]  # noqa: S106
    )
    AgentStatus.objects.bulk_create(
        [AgentStatus(user=u, status=AgentStatus.Status.ONLINE, capacity=capacity) for u in users]
    )
    Membership = Team.members.through
    Membership.objects.bulk_create(
        [Membership(team_id=teams[i % len(teams)].pk, user_id=u.pk) for i, u in enumerate(users)]
    )
    customers = Customer.objects.bulk_create(
        [Customer(channel="simulator", external_id=f"bench-{i}") for i in range(conversations)]
    )
    rows = Conversation.objects.bulk_create(
        [Conversation(customer=c, channel="simulator", mode=Conversation.Mode.QUEUED) for c in customers]
    )
    start = timezone.now() - timedelta(minutes=30)
    QueueTicket.objects.bulk_create(
        [
            QueueTicket(
                conversation=c,
                team=None if i % 10 == 9 else teams[i % len(teams)],
                reason="bench",
                queued_at=start + timedelta(seconds=i),
            )
            for i, c in enumerate(rows)
        ]
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")


def in_threads(threads: int, work: Callable[[], object]) -> float:
    """Run ``work`` in ``threads`` threads at once; returns the wall time in seconds."""
    from django.db import close_old_connections

    def body() -> None:
        try:
            work()
        finally:
            close_old_connections()

    running = [threading.Thread(target=body) for _ in range(threads)]
    started = time.perf_counter()
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return time.perf_counter() - started


def checked(args: argparse.Namespace, *, assigned: int, chain: bool) -> bool:
    from apps.audit.selectors import audit_chain_verify
    from apps.conversations.models import Conversation, ConversationEvent

    loads = Counter(Conversation.objects.filter(mode=Conversation.Mode.HUMAN).values_list("assignee_id", flat=True))
    given = Counter(
        ConversationEvent.objects.filter(kind=ConversationEvent.Kind.AUTO_ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    over = [agent for agent, n in loads.items() if n > args.capacity]
    twice = [c for c, n in given.items() if n > 1]
    expected = min(args.agents * args.capacity, args.conversations)
    report = audit_chain_verify() if chain else None
    broken = report is not None and report.broken is not None
    ok = not over and not twice and not broken and assigned == expected == sum(loads.values()) == len(given)
    verified = f"; audit chain: {report.checked:,} rows, {'BROKEN' if broken else 'verifies'}" if report else ""
    print(f"  agents over capacity: {len(over)}; conversations given twice: {len(twice)}{verified}")
    print("  checks:", "ok" if ok else f"FAILED (expected {expected} assignments, got {assigned})")
    return ok


def run_single(args: argparse.Namespace) -> tuple[bool, float]:
    """The baseline: ticket_assign per waiting ticket, a full team skipped, as the drain was."""
    from apps.core import clock
    from apps.routing import selectors
    from apps.routing.services import assign

    timings: list[float] = []

    def drain() -> None:
        full: set[int | None] = set()
        rows = selectors.assignable(now=clock.now()).values_list("pk", "conversation_id", "team_id")
        for ticket_id, conversation_id, team_id in list(rows[:5000]):
            if team_id in full:
                continue
            started = time.perf_counter()
            outcome = assign.ticket_assign(ticket_id=ticket_id, conversation_id=conversation_id)
            if outcome is assign.Outcome.ASSIGNED:
                timings.append((time.perf_counter() - started) * 1000)
            elif outcome is assign.Outcome.NO_ROOM:
                full.add(team_id)

    wall = in_threads(args.threads, drain)
    print(f"single-ticket path (baseline): assigned {len(timings):,} in {wall:.2f} s: {len(timings) / wall:,.0f}/s")
    print(f"  per assignment: P50 {pct(timings, 50):.2f} ms, P99 {pct(timings, 99):.2f} ms, max {max(timings):.2f} ms")
    return checked(args, assigned=len(timings), chain=False), pct(timings, 99)


def run_batched(args: argparse.Namespace) -> tuple[bool, float]:
    from django.conf import settings

    from apps.routing.services import drain

    batches: list[tuple[float, int]] = []  # (ms, assignments)
    real = drain.tickets_assign

    def timed(*, rows: list[drain.Row]) -> drain.BatchResult:
        started = time.perf_counter()
        result = real(rows=rows)
        batches.append(((time.perf_counter() - started) * 1000, result.assigned))
        return result

    drain.tickets_assign = timed  # queue_drain looks it up per batch
    try:
        wall = in_threads(args.threads, drain.queue_drain)
    finally:
        drain.tickets_assign = real
    assigned = sum(n for _, n in batches)
    useful = [(ms, n) for ms, n in batches if n]
    cost = [ms / n for ms, n in useful]
    latency = [ms for ms, _ in useful]
    size = settings.DESK_ROUTING_DRAIN_BATCH
    print(f"batched drain (batches of {size}): assigned {assigned:,} in {wall:.2f} s: {assigned / wall:,.0f}/s")
    print(
        f"  {len(batches)} batches, {len(useful)} assigned something "
        f"(P50 {pct([n for _, n in useful], 50):.0f} assignments each)"
    )
    print(
        f"  cost per assignment (batch time / its assignments): P50 {pct(cost, 50):.2f} ms, P99 {pct(cost, 99):.2f} ms"
    )
    print(f"  batch latency: P50 {pct(latency, 50):.1f} ms, P99 {pct(latency, 99):.1f} ms, max {max(latency):.1f} ms")
    if len(useful) < len(batches):
        idle = [ms for ms, n in batches if not n]
        print(
            f"  batches that assigned nothing (taken by another drain, or teams full): {len(idle)}, "
            f"P50 {pct(idle, 50):.1f} ms"
        )
    return checked(args, assigned=assigned, chain=True), pct(cost, 99)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    print(f"{args.conversations:,} queued, {args.agents} agents x {args.capacity} seats, {args.threads} thread(s)")
    seed(conversations=args.conversations, agents=args.agents, capacity=args.capacity)
    single_ok, single_p99 = run_single(args)
    empty()
    seed(conversations=args.conversations, agents=args.agents, capacity=args.capacity)
    batched_ok, batched_p99 = run_batched(args)
    print(f"P99 per assignment: {single_p99:.2f} ms -> {batched_p99:.2f} ms ({single_p99 / batched_p99:.1f}x)")
    if not (single_ok and batched_ok):
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args)
        return
    prepare()
    argv = [sys.executable, __file__, "--child", *sys.argv[1:]]
    sys.exit(subprocess.run(argv, cwd=ROOT, env=child_env(), check=False).returncode)


if __name__ == "__main__":
    main()
