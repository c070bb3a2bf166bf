"""Availability: offline hands conversations back (queue or teammate), presence marks away."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, ConversationEvent
from apps.routing import services
from apps.routing.models import AgentStatus, QueueTicket
from tests.console.test_websocket import connect
from tests.factories import TeamFactory
from tests.routing.conftest import load

Mode = Conversation.Mode


def test_an_agent_going_offline_puts_their_conversations_back_in_line_first(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], clock: ModuleType
) -> None:
    alice = on_shift("alice", capacity=2)
    served = queued(2)
    services.queue_drain()
    clock.advance(30)
    later = queued(1)  # arrived after alice's two

    services.agent_status_set(user_id=alice.pk, status="offline", actor_id=alice.pk)

    for conversation in served:
        conversation.refresh_from_db()
        assert (conversation.mode, conversation.assignee) == (Mode.QUEUED, None)
        assert ConversationEvent.objects.filter(conversation=conversation).latest("pk").kind == "requeued"
    # Back in line where they first stood: ahead of the one that came later.
    bob = on_shift("bob", capacity=2)
    services.queue_drain()
    assert load(bob) == 2
    assert {c.assignee for c in Conversation.objects.filter(pk__in=[c.pk for c in served])} == {bob}
    assert Conversation.objects.get(pk=later[0].pk).mode == Mode.QUEUED
    row = AuditLog.objects.filter(event="agent.availability").latest("pk")
    assert (row.actor_id, row.details["to"]) == (alice.pk, "offline")
    # The first stint ended when alice left: its handle time counts.
    assert QueueTicket.objects.filter(assignee=alice, ended_at__isnull=False).count() == 2


def test_in_teammate_mode_an_offline_agents_conversations_go_to_a_teammate(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]], settings: Any
) -> None:
    settings.DESK_ROUTING_ON_OFFLINE = "teammate"
    team = TeamFactory()
    alice = on_shift("alice", capacity=2, teams=(team,))
    served = queued(2, team=team)
    services.queue_drain()
    bob = on_shift("bob", capacity=1, teams=(team,))
    on_shift("outsider", capacity=5)  # online, but not of the team

    services.agent_status_set(user_id=alice.pk, status="offline", actor_id=alice.pk)

    modes = sorted(
        (c.mode, c.assignee.username if c.assignee else "")
        for c in Conversation.objects.filter(pk__in=[c.pk for c in served])
    )
    # Bob has one seat: one goes to him, the other back to the queue (nobody else of the team).
    assert modes == [(Mode.HUMAN, "bob"), (Mode.QUEUED, "")]
    assert load(bob) == 1


def test_an_agent_with_every_console_tab_closed_is_marked_away_after_the_set_time(
    on_shift: Callable[..., User], clock: ModuleType, settings: Any
) -> None:
    alice, bob = on_shift("alice"), on_shift("bob")
    services.presence_connect(user_id=alice.pk)
    services.presence_connect(user_id=alice.pk)  # two tabs
    services.presence_connect(user_id=bob.pk)
    services.presence_disconnect(user_id=alice.pk)

    clock.advance(settings.DESK_ROUTING_AWAY_AFTER_S * 3)
    assert services.presence_sweep() == 0  # one of alice's tabs is still open

    services.presence_disconnect(user_id=alice.pk)
    clock.advance(settings.DESK_ROUTING_AWAY_AFTER_S - 1)
    assert services.presence_sweep() == 0
    clock.advance(2)
    assert services.presence_sweep() == 1

    status = AgentStatus.objects.get(user=alice)
    assert (status.status, status.away_auto) == ("away", True)
    assert AgentStatus.objects.get(user=bob).status == "online"
    # Away takes no new conversations; a tab coming back puts alice online again.
    services.presence_connect(user_id=alice.pk)
    assert AgentStatus.objects.get(user=alice).status == "online"


def test_an_agent_who_chose_away_is_not_put_online_by_a_tab(on_shift: Callable[..., User]) -> None:
    alice = on_shift("alice")
    services.agent_status_set(user_id=alice.pk, status="away", actor_id=alice.pk)

    services.presence_connect(user_id=alice.pk)

    assert AgentStatus.objects.get(user=alice).status == "away"


def test_the_console_sets_availability_and_shows_the_load(on_shift: Callable[..., User]) -> None:
    alice = on_shift("alice", status="offline")
    client = Client()
    client.force_login(alice)

    page = client.get(reverse("admin:console_conversations"))
    assert page.status_code == 200
    assert b'id="availability"' in page.content
    answer = client.post(reverse("admin:console_availability"), {"status": "online"})
    assert answer.json() == {"ok": True, "status": "online", "load": 0, "capacity": 3}
    assert client.post(reverse("admin:console_availability"), {"status": "asleep"}).status_code == 400


def test_the_console_rereads_availability_without_changing_it(
    on_shift: Callable[..., User], queued: Callable[..., list[Conversation]]
) -> None:
    alice = on_shift("alice", capacity=2)
    queued(1)
    services.queue_drain()
    client = Client()
    client.force_login(alice)

    answer = client.get(reverse("admin:console_availability"))

    assert answer.json() == {"ok": True, "status": "online", "load": 1, "capacity": 2}
    assert not AuditLog.objects.filter(event="agent.availability").exists()


def test_the_console_availability_endpoint_is_for_agents_only(outsider: User) -> None:
    client = Client()
    client.force_login(outsider)

    assert client.post(reverse("admin:console_availability"), {"status": "online"}).status_code == 403
    assert client.get(reverse("admin:console_availability")).status_code == 403


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_console_websockets_count_as_presence(on_shift: Callable[..., User], clock: ModuleType) -> None:
    alice = await sync_to_async(on_shift)("alice")
    connected, _, tab = await connect("/ws/console/", alice)
    assert connected

    await sync_to_async(clock.advance)(3600)
    assert await sync_to_async(services.presence_sweep)() == 0
    await tab.disconnect()
    await sync_to_async(clock.advance)(3600)
    assert await sync_to_async(services.presence_sweep)() == 1
