"""The batched drain: the same assignments as one-by-one ticket_assign calls, the same record of
each (events, audit chain, nudges, channel hooks, signals), a constant number of queries per batch,
and no conversation given twice nor an agent overfilled by concurrent drains."""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditLog
from apps.audit.selectors import ChainReport, audit_chain_verify
from apps.audit.services import audit_record, audit_record_many
from apps.conversations import signals
from apps.conversations.models import Conversation, ConversationEvent
from apps.core import side_effects
from apps.core.clock import now
from apps.routing import selectors, services
from apps.routing.models import AgentStatus, QueueTicket
from tests.factories import TeamFactory
from tests.routing.conftest import load

Mode = Conversation.Mode


def drain_one_by_one() -> int:
    """The drain as it was before batches: ticket_assign per ticket, a full team skipped."""
    assigned, full = 0, set()
    rows = selectors.assignable(now=now()).values_list("pk", "conversation_id", "team_id")
    for ticket_id, conversation_id, team_id in list(rows):
        if team_id in full:
            continue
        outcome = services.ticket_assign(ticket_id=ticket_id, conversation_id=conversation_id)
        if outcome is services.Outcome.ASSIGNED:
            assigned += 1
        elif outcome is services.Outcome.NO_ROOM:
            full.add(team_id)
    return assigned


def outcome() -> dict[str, Any]:
    """Who got which conversation, and what became of every ticket."""
    return {
        "assignees": dict(Conversation.objects.order_by("pk").values_list("pk", "assignee__username")),
        "modes": dict(Conversation.objects.order_by("pk").values_list("pk", "mode")),
        "tickets": [
            (conversation_id, assignee, assigned_at is not None, ended_at is not None)
            for conversation_id, assignee, assigned_at, ended_at in QueueTicket.objects.order_by("pk").values_list(
                "conversation_id", "assignee__username", "assigned_at", "ended_at"
            )
        ],
    }


@pytest.fixture
def mixed_line(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], clock: ModuleType
) -> list[Conversation]:
    """Two teams and the untagged, ties to break, a team that fills up, a ticket for the next shift,
    one whose conversation left the queue without telling routing, and one ended already."""
    billing, complaints = TeamFactory(name="账单"), TeamFactory(name="投诉")
    on_shift("alice", capacity=3, teams=(billing,))
    on_shift("bob", capacity=3, teams=(billing, complaints))
    on_shift("carol", capacity=1)
    on_shift("dave", capacity=2, teams=(complaints,))
    on_shift("erin", capacity=5, status=AgentStatus.Status.AWAY)
    made: list[Conversation] = []
    for team in (billing, None, complaints, billing, None, complaints):
        made += queued(1, team=team)
    later, left, gone = queued(1, team=billing)[0], queued(1)[0], queued(1)[0]
    QueueTicket.objects.filter(conversation=later).update(not_before=clock.now() + timedelta(hours=1))
    Conversation.objects.filter(pk=left.pk).update(mode=Mode.BOT)
    QueueTicket.objects.filter(conversation=gone).update(ended_at=clock.now())
    for team in (billing, None, None, complaints, billing, None):
        made += queued(1, team=team)
    return [*made, later, left, gone]


@pytest.mark.parametrize("batch", [1, 3, 50])
def test_the_batched_drain_assigns_as_one_ticket_at_a_time_would(
    mixed_line: list[Conversation], settings: Any, batch: int
) -> None:
    with transaction.atomic():
        one_by_one = drain_one_by_one()
        expected = outcome()
        transaction.set_rollback(True)
    settings.DESK_ROUTING_DRAIN_BATCH = batch

    assert services.queue_drain() == one_by_one == 9  # every seat of the on-shift agents
    assert outcome() == expected
    later, left, gone = mixed_line[-3:]
    assert QueueTicket.objects.get(conversation=later).assigned_at is None  # not before the next shift
    assert QueueTicket.objects.get(conversation=left).ended_at is not None  # it left the queue: ended
    assert QueueTicket.objects.get(conversation=gone).assignee is None
    assert Conversation.objects.filter(assignee__username="erin").count() == 0  # away


def test_equal_agents_take_turns_across_batches(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], settings: Any
) -> None:
    settings.DESK_ROUTING_DRAIN_BATCH = 2
    for name in ("carol", "alice", "bob"):
        on_shift(name, capacity=2)
    conversations = queued(7)

    assert services.queue_drain() == 6

    order = [c.assignee.username if c.assignee else None for c in Conversation.objects.order_by("pk")]
    assert [c.pk for c in Conversation.objects.order_by("pk")] == [c.pk for c in conversations]
    # 2/2/2 free: all tie, the lowest pk first; then each has one seat and the one assigned
    # longest ago goes first, whether or not the previous assignment was in the same batch.
    assert order == ["carol", "alice", "bob", "carol", "alice", "bob", None]


def test_a_full_team_is_skipped_and_the_others_are_served(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], settings: Any
) -> None:
    settings.DESK_ROUTING_DRAIN_BATCH = 2
    billing = TeamFactory()
    on_shift("biller", capacity=1, teams=(billing,))
    on_shift("generalist", capacity=5)
    stuck = queued(4, team=billing)
    others = queued(3)

    assert services.queue_drain() == 4

    assert Conversation.objects.filter(pk__in=[c.pk for c in stuck], mode=Mode.QUEUED).count() == 3
    assert Conversation.objects.filter(pk__in=[c.pk for c in others], mode=Mode.HUMAN).count() == 3


def test_a_batch_records_each_conversation_as_a_single_assignment_would(
    on_shift: Callable[..., User],
    queued: Callable[..., list[Conversation]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    alice = on_shift("alice", capacity=3)
    conversations = queued(3)
    queued(1)  # left waiting
    published: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(side_effects, "publish", lambda group, event: published.append((group, event)))
    hooks: list[tuple[Any, ...]] = []
    # The simulator's hook is a no-op the spine skips; pretend it has one, to see it enqueued.
    monkeypatch.setattr("apps.conversations.services.modes.overrides_hook", lambda channel, hook: True)
    monkeypatch.setattr(
        "apps.conversations.services.modes.enqueue_on_commit", lambda task, *args, **kw: hooks.append(args)
    )
    changed: list[tuple[int, str]] = []

    def _listen(sender: Any, *, conversation: Conversation, kind: str, **kwargs: Any) -> None:
        changed.append((conversation.pk, kind))

    signals.conversation_mode_changed.connect(_listen, dispatch_uid="test.drain_batch")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.queue_drain() == 3
    finally:
        signals.conversation_mode_changed.disconnect(dispatch_uid="test.drain_batch")

    ids = [c.pk for c in conversations]
    kind = ConversationEvent.Kind.AUTO_ASSIGNED
    events = ConversationEvent.objects.filter(kind=kind).order_by("pk")
    assert [(e.conversation_id, e.actor_id, e.assignee_id) for e in events] == [(pk, None, alice.pk) for pk in ids]
    rows = AuditLog.objects.filter(event="conversation.auto_assigned").order_by("pk")
    assert [(r.conversation_id_ref, r.kind, r.actor_id, r.channel, r.details) for r in rows] == [
        (pk, AuditLog.Kind.SYSTEM, None, "simulator", {"mode": Mode.HUMAN, "assignee_id": alice.pk}) for pk in ids
    ]
    report = audit_chain_verify()
    assert report.broken is None
    assert report.checked == AuditLog.objects.count()
    for pk in ids:
        nudge = {"type": "desk.event", "kind": "conversation", "conversation_id": pk}
        assert ("desk.lists", nudge) in published
        assert (f"desk.conversation.{pk}", nudge) in published
    assert hooks == [(pk, Mode.HUMAN, alice.pk) for pk in ids]
    assert changed == [(pk, kind) for pk in ids]
    assert all(c.updated_at < Conversation.objects.get(pk=c.pk).updated_at for c in conversations)


def test_a_batch_costs_the_same_queries_however_many_it_assigns(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], settings: Any
) -> None:
    team = TeamFactory()
    for _ in range(4):
        on_shift(capacity=10, teams=(team,))
    settings.DESK_ROUTING_DRAIN_BATCH = 50
    counts = []
    for n in (2, 20):
        queued(n, team=team)
        with CaptureQueriesContext(connection) as captured:
            assert services.queue_drain() == n
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_audit_record_many_chains_between_single_rows(db: None) -> None:
    audit_record(kind=AuditLog.Kind.SYSTEM, event="conversation.auto_assigned", conversation_id=1)
    made = audit_record_many(
        [{"kind": AuditLog.Kind.SYSTEM, "event": "conversation.auto_assigned", "conversation_id": n} for n in (2, 3)]
    )
    audit_record(kind=AuditLog.Kind.SYSTEM, event="conversation.closed", conversation_id=3)

    assert [row.prev_hash for row in made[1:]] == [made[0].hash]
    assert audit_chain_verify() == ChainReport(checked=4, broken=None)
    with pytest.raises(ValueError, match="not an audit event"):
        audit_record_many(
            [{"kind": AuditLog.Kind.SYSTEM, "event": "conversation.auto_assigned"}, {"kind": "x", "event": "no.such"}]
        )
    assert AuditLog.objects.count() == 4  # nothing of a batch with an unknown event is written


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_drains_and_single_assigners_never_double_assign_nor_overfill(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], settings: Any
) -> None:
    """Five batched drains and three threads assigning ticket by ticket (newest first, against
    the drains' order) on real Postgres: the row locks, not the drains' turn-taking, keep it right."""
    settings.DESK_ROUTING_DRAIN_BATCH = 4
    billing = TeamFactory()
    agents = [on_shift(f"agent{i}", capacity=1 + i % 3, teams=(billing,) if i % 2 else ()) for i in range(8)]
    seats = sum(1 + i % 3 for i in range(8))  # 15, fewer than the 20 waiting
    conversations = [c for i in range(20) for c in queued(1, team=billing if i % 3 == 0 else None)]
    tickets = list(QueueTicket.objects.order_by("-pk").values_list("pk", flat=True))
    barrier = threading.Barrier(8)
    assigned: list[int] = []
    errors: list[BaseException] = []

    def drain() -> None:
        assigned.append(services.queue_drain())

    def one_by_one() -> None:
        outcomes = [services.ticket_assign(ticket_id=pk) for pk in tickets]
        assigned.append(outcomes.count(services.Outcome.ASSIGNED))

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(drain if i < 5 else one_by_one,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(assigned) == seats
    for agent in agents:
        assert load(agent) == agent.agent_status.capacity
    given = Counter(
        ConversationEvent.objects.filter(kind=ConversationEvent.Kind.AUTO_ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    assert len(given) == seats
    assert set(given.values()) == {1}, "no conversation was given twice"
    assert QueueTicket.objects.filter(conversation__in=conversations, assigned_at__isnull=False).count() == seats
    assert Conversation.objects.filter(pk__in=[c.pk for c in conversations], mode=Mode.QUEUED).count() == 20 - seats
    report = audit_chain_verify()
    assert report.broken is None
    assert AuditLog.objects.filter(event="conversation.auto_assigned").count() == seats
