"""The assigner: capacity, most free seats first with round robin among equals, teams, concurrent
assigners, and manual picks staying possible and audited."""

import threading
from collections import Counter
from collections.abc import Callable
from types import ModuleType

import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections

from apps.audit.models import AuditLog
from apps.console import services as console
from apps.conversations.models import Conversation, ConversationEvent
from apps.routing import services
from apps.routing.models import QueueTicket
from tests.factories import TeamFactory
from tests.routing.conftest import load

Mode = Conversation.Mode


def test_no_agent_gets_more_conversations_than_their_capacity(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], clock: ModuleType
) -> None:
    alice, bob = on_shift("alice", capacity=2), on_shift("bob", capacity=1)
    waiting = queued(5)

    assert services.queue_drain() == 3

    assert (load(alice), load(bob)) == (2, 1)
    modes = Counter(Conversation.objects.filter(pk__in=[c.pk for c in waiting]).values_list("mode", flat=True))
    assert modes == {Mode.HUMAN: 3, Mode.QUEUED: 2}
    # The oldest waited least: the line is served in order.
    assert [c.mode for c in Conversation.objects.filter(pk__in=[c.pk for c in waiting]).order_by("pk")] == [
        Mode.HUMAN
    ] * 3 + [Mode.QUEUED] * 2
    assert services.queue_drain() == 0

    # A seat frees up when alice closes one: the next in line gets it.
    clock.advance(60)
    served = Conversation.objects.filter(assignee=alice).first()
    assert served is not None
    console.conversation_close(conversation_id=served.pk, agent=alice)
    assert services.queue_drain() == 1
    assert (load(alice), load(bob)) == (2, 1)


def test_the_freest_agent_goes_first_and_equals_take_turns(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], clock: ModuleType
) -> None:
    alice, bob, carol = on_shift("alice", capacity=3), on_shift("bob", capacity=3), on_shift("carol", capacity=1)
    conversations = queued(6)

    for _ in conversations:
        ticket = services.ticket_assign(ticket_id=QueueTicket.objects.filter(assigned_at=None).earliest("pk").pk)
        assert ticket is services.Outcome.ASSIGNED
        clock.advance(1)

    order = [
        c.assignee.username if c.assignee else None
        for c in Conversation.objects.filter(pk__in=[c.pk for c in conversations]).order_by("pk")
    ]
    # Free seats 3/3/1: alice and bob tie, alice has the lower id; then bob has more free; at 2/2
    # alice was assigned longer ago; at 1/1/1 carol was never assigned; then alice again.
    assert order == ["alice", "bob", "alice", "bob", "carol", "alice"]
    assert (load(alice), load(bob), load(carol)) == (3, 2, 1)


def test_a_team_conversation_goes_only_to_that_teams_members(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    billing, complaints = TeamFactory(name="账单"), TeamFactory(name="投诉")
    biller = on_shift("biller", capacity=5, teams=(billing,))
    handler = on_shift("handler", capacity=5, teams=(complaints,))
    anyone = on_shift("anyone", capacity=5)

    for_billing = queued(2, team=billing)
    untagged = queued(1)

    services.queue_drain()

    assert {c.assignee for c in Conversation.objects.filter(pk__in=[c.pk for c in for_billing])} == {biller}
    # No team: any online agent, the freest first: the biller has 3 seats left, the others 5 (the
    # tie goes to the lower id).
    untagged[0].refresh_from_db()
    assert untagged[0].assignee == handler
    assert anyone.pk > handler.pk


def test_a_full_team_leaves_its_line_waiting_while_others_are_served(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    billing = TeamFactory()
    on_shift("biller", capacity=1, teams=(billing,))
    on_shift("generalist", capacity=5)
    stuck = queued(3, team=billing)
    others = queued(2)

    assert services.queue_drain() == 3  # one billing, two others

    assert Conversation.objects.filter(pk__in=[c.pk for c in stuck], mode=Mode.QUEUED).count() == 2
    assert Conversation.objects.filter(pk__in=[c.pk for c in others], mode=Mode.HUMAN).count() == 2


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_assigners_never_double_assign_nor_overfill(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    agents = [on_shift(f"agent{i}", capacity=1 + i % 3) for i in range(6)]  # 12 seats
    conversations = queued(30)
    barrier = threading.Barrier(8)
    assigned: list[int] = []
    errors: list[BaseException] = []

    def assigner() -> None:
        try:
            barrier.wait()
            assigned.append(services.queue_drain())
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=assigner) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(assigned) == 12
    for agent in agents:
        assert load(agent) == agent.agent_status.capacity
    events = Counter(
        ConversationEvent.objects.filter(kind=ConversationEvent.Kind.AUTO_ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    assert len(events) == 12
    assert set(events.values()) == {1}, "no conversation was given twice"
    tickets = QueueTicket.objects.filter(conversation__in=conversations, assigned_at__isnull=False)
    assert tickets.count() == 12
    assert Conversation.objects.filter(pk__in=[c.pk for c in conversations], mode=Mode.QUEUED).count() == 18


def test_a_manual_reassignment_stays_possible_and_is_audited(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    alice, bob = on_shift("alice", capacity=1), on_shift("bob", capacity=1)
    first, _second, third = queued(3)
    assert services.queue_drain() == 2
    first.refresh_from_db()
    assert first.assignee == alice

    # Bob is full; a supervisor's pick may still give him another (capacity binds the assigner only).
    console.conversation_assign(conversation_id=first.pk, agent=alice, assignee_id=bob.pk)

    first.refresh_from_db()
    assert first.assignee == bob
    event = ConversationEvent.objects.filter(conversation=first).latest("pk")
    assert (event.kind, event.actor, event.assignee) == (ConversationEvent.Kind.ASSIGNED, alice, bob)
    row = AuditLog.objects.filter(event="conversation.assigned").latest("pk")
    assert (row.actor_id, row.conversation_id_ref, row.details["assignee_id"]) == (alice.pk, first.pk, bob.pk)
    auto = AuditLog.objects.filter(event="conversation.auto_assigned", conversation_id_ref=first.pk).get()
    assert auto.actor_id is None
    # Alice's seat is free again: the waiting one is hers now.
    assert services.queue_drain() == 1
    third.refresh_from_db()
    assert third.assignee == alice
    assert load(bob) == 2


def test_a_manual_pick_from_the_queue_ends_the_wait_on_the_ticket(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    alice = on_shift("alice", status="offline")
    (waiting,) = queued(1)

    console.conversation_take_over(conversation_id=waiting.pk, agent=alice)

    ticket = QueueTicket.objects.get(conversation=waiting)
    assert (ticket.assignee, ticket.assigned_at is not None, ticket.ended_at) == (alice, True, None)
    console.conversation_close(conversation_id=waiting.pk, agent=alice)
    ticket.refresh_from_db()
    assert ticket.ended_at is not None
    assert services.queue_drain() == 0
