"""Routing benchmark: 1,000 queued conversations, 200 online agents in 5 teams, one drain.

Creates (once) and migrates a database of its own (desk_bench_routing), empties the tables a run
fills, seeds the agents (capacity 4 each: 800 seats, so 200 customers are left waiting and the
full-team skip is exercised) and the queued conversations with their tickets (round robin over
the teams, 10 % without a team), then runs the real assigner, apps.routing.services.queue_drain,
in ``--threads`` threads at once. Every assignment is timed (ticket_assign: conversation lock,
candidate query, agent row locks, the spine's mode record with its event, audit row and nudges).
Prints assignments/s and P50/P99 per assignment, and checks that no agent is over capacity and no
conversation was given twice.

    python bench/routing.py [--conversations 1000] [--agents 200] [--capacity 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
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


def spine_floor(*, left: int) -> list[float]:
    """Baseline: what any assignment costs in this desk without routing: lock the conversation and
    record the change (event, hash-chained audit row, nudges), as the console's assign does. Run
    on the conversations still waiting, then undone so the checks below see only the assigner's."""
    from django.db import transaction

    from apps.conversations.models import Conversation, ConversationEvent
    from apps.conversations.services import conversation_lock, conversation_mode_record

    ids = list(Conversation.objects.filter(mode=Conversation.Mode.QUEUED).values_list("pk", flat=True)[:left])
    timings = []
    for conversation_id in ids:
        started = time.perf_counter()
        with transaction.atomic():
            conversation = conversation_lock(conversation_id)
            conversation.mode = Conversation.Mode.HUMAN
            conversation_mode_record(conversation, kind=ConversationEvent.Kind.ASSIGNED, actor=None, fields=["mode"])
        timings.append((time.perf_counter() - started) * 1000)
    Conversation.objects.filter(pk__in=ids).update(mode=Conversation.Mode.QUEUED)
    return timings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.db import close_old_connections

    from apps.conversations.models import Conversation, ConversationEvent
    from apps.routing.services import assign

    seed(conversations=args.conversations, agents=args.agents, capacity=args.capacity)
    timings: list[float] = []
    real_assign = assign.ticket_assign

    def timed(*, ticket_id: int, conversation_id: int | None = None) -> assign.Outcome:
        started = time.perf_counter()
        outcome = real_assign(ticket_id=ticket_id, conversation_id=conversation_id)
        if outcome is assign.Outcome.ASSIGNED:
            timings.append((time.perf_counter() - started) * 1000)
        return outcome

    assign.ticket_assign = timed  # queue_drain looks it up per call

    def drain() -> None:
        try:
            assign.queue_drain()
        finally:
            close_old_connections()

    threads = [threading.Thread(target=drain) for _ in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    loads = Counter(Conversation.objects.filter(mode=Conversation.Mode.HUMAN).values_list("assignee_id", flat=True))
    given = Counter(
        ConversationEvent.objects.filter(kind=ConversationEvent.Kind.AUTO_ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    seats = args.agents * args.capacity
    floor = spine_floor(left=args.conversations - len(timings))
    print(f"{args.conversations:,} queued, {args.agents} agents x {args.capacity} seats, {args.threads} thread(s)")
    print(f"assigned {len(timings):,} in {wall:.2f} s: {len(timings) / wall:,.0f} assignments/s")
    print(f"per assignment: P50 {pct(timings, 50):.2f} ms, P99 {pct(timings, 99):.2f} ms, max {max(timings):.2f} ms")
    if floor:
        print(
            f"floor (the spine's record of a manual assignment, {len(floor)} of the unassigned): "
            f"P50 {pct(floor, 50):.2f} ms, P99 {pct(floor, 99):.2f} ms"
        )
    over = [agent for agent, n in loads.items() if n > args.capacity]
    twice = [c for c, n in given.items() if n > 1]
    print(f"agents over capacity: {len(over)}; conversations given twice: {len(twice)}")
    expected = min(seats, args.conversations)
    ok = not over and not twice and len(timings) == expected == sum(loads.values())
    print("checks:", "ok" if ok else f"FAILED (expected {expected} assignments)")
    if not ok:
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
