"""SLA policies: first- and next-response clocks, warnings, breaches recorded once by the routing
beat (with the metric), per-team policies, off-hours tickets, and the console showing the clock.

Time moves with the desk's clock. Messages keep Django's real clock (Message.created_at), so each
test writes its messages before moving the clock: the clocks compare the desk's timestamps with
the messages' only across the queueing, which happens at real time here.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from apps.console import services as console
from apps.conversations import services as spine
from apps.conversations.models import Conversation, Message
from apps.routing import services, sla, tasks
from apps.routing.models import QueueTicket, SlaBreach, SlaPolicy, Team
from tests.factories import BusinessHoursFactory, SlaPolicyFactory, TeamFactory, receive
from tests.routing.test_hours import DAILY, later_day, local, travel

Status = sla.SlaStatus
Kind = SlaBreach.Kind


def breaches_counted(kind: str, team: str = "") -> float:
    return REGISTRY.get_sample_value("desk_sla_breaches_total", {"kind": kind, "team": team}) or 0.0


def warning_gauge() -> float | None:
    return REGISTRY.get_sample_value("desk_sla_warning_conversations")


def queue_one(user: str = "c1") -> Conversation:
    """A customer asks for a person; nobody takes it yet (tasks run on commit, never in these tests)."""
    asked = receive("转人工", user=user).message
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)
    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert conversation.mode == Conversation.Mode.QUEUED
    return conversation


def left_in(html: str) -> int:
    found = re.search(r'data-left="(-?\d+)"', html)
    assert found is not None
    return int(found[1])


def state(conversation: Conversation, clock: ModuleType) -> sla.SlaState | None:
    return sla.sla_state(conversation_id=conversation.pk, now=clock.now())


def test_the_first_response_clock_runs_from_queueing_warns_then_breaches_once(db: None, clock: ModuleType) -> None:
    SlaPolicyFactory(first_response_s=300, warn_before_s=60)
    conversation = queue_one()
    ticket = QueueTicket.objects.get(conversation=conversation)
    counted = breaches_counted(Kind.FIRST)

    running = state(conversation, clock)
    assert running is not None
    assert (running.kind, running.status, running.due_at) == (
        Kind.FIRST,
        Status.OK,
        ticket.queued_at + timedelta(seconds=300),
    )

    clock.advance(241)  # within the last minute
    assert state(conversation, clock).status is Status.WARNING  # type: ignore[union-attr]
    assert services.sla_breaches_record() == 0
    assert warning_gauge() == 1

    clock.advance(60)
    assert state(conversation, clock).status is Status.BREACHED  # type: ignore[union-attr]
    assert services.sla_breaches_record() == 1
    # Every later beat sees the same overdue clock and records nothing more.
    assert services.sla_breaches_record() == 0
    assert tasks.routing_tick()["sla_breaches"] == 0
    breach = SlaBreach.objects.get()
    assert (breach.conversation, breach.ticket, breach.kind, breach.team, breach.assignee) == (
        conversation,
        ticket,
        Kind.FIRST,
        None,
        None,
    )
    assert breach.due_at == ticket.queued_at + timedelta(seconds=300)
    assert breaches_counted(Kind.FIRST) == counted + 1
    assert warning_gauge() == 0


def test_an_agent_who_replies_in_time_meets_the_target(
    db: None, clock: ModuleType, on_shift: Callable[..., User]
) -> None:
    SlaPolicyFactory(first_response_s=300)
    alice = on_shift("alice")
    conversation = queue_one()
    console.conversation_take_over(conversation_id=conversation.pk, agent=alice)
    clock.advance(120)
    console.agent_reply(conversation_id=conversation.pk, agent=alice, body="您好，我是客服小王")

    assert state(conversation, clock) == sla.SlaState(Kind.NEXT, Status.MET)  # answered; no next clock yet
    clock.advance(3600)
    assert services.sla_breaches_record() == 0
    assert not SlaBreach.objects.exists()


def test_the_next_response_clock_runs_from_a_customer_message_to_the_agent(
    db: None, clock: ModuleType, on_shift: Callable[..., User]
) -> None:
    SlaPolicyFactory(first_response_s=300, next_response_s=600, warn_before_s=60)
    alice = on_shift("alice")
    conversation = queue_one()
    console.conversation_take_over(conversation_id=conversation.pk, agent=alice)
    console.agent_reply(conversation_id=conversation.pk, agent=alice, body="您好")
    again = receive("还在吗？", user="c1").message
    also = receive("订单号 123", user="c1").message  # the clock runs from the first one unanswered

    running = state(conversation, clock)
    assert running is not None
    assert (running.kind, running.status, running.started_at) == (Kind.NEXT, Status.OK, again.created_at)
    assert running.due_at == again.created_at + timedelta(seconds=600)
    assert also.pk > again.pk

    clock.advance(541)
    assert state(conversation, clock).status is Status.WARNING  # type: ignore[union-attr]
    clock.advance(60)
    assert services.sla_breaches_record() == 1
    breach = SlaBreach.objects.get()
    assert (breach.kind, breach.assignee, breach.started_at) == (Kind.NEXT, alice, again.created_at)

    console.agent_reply(conversation_id=conversation.pk, agent=alice, body="在的，马上查")
    assert state(conversation, clock).status is Status.MET  # type: ignore[union-attr]
    assert services.sla_breaches_record() == 0


def test_a_team_policy_beats_the_default_and_a_disabled_one_falls_back(
    db: None, clock: ModuleType, queued: Callable[..., list[Conversation]]
) -> None:
    team: Team = TeamFactory.create(name="售后")
    SlaPolicyFactory(first_response_s=300)
    own: SlaPolicy = SlaPolicyFactory.create(team=team, first_response_s=60, warn_before_s=10)
    (for_team,) = queued(1, team=team)
    (anyone,) = queued(1)
    counted = breaches_counted(Kind.FIRST, "售后")

    clocks = sla.sla_states(conversation_ids=[for_team.pk, anyone.pk], now=clock.now())
    started = {c: clocks[c].started_at for c in clocks}
    assert clocks[for_team.pk].due_at == started[for_team.pk] + timedelta(seconds=60)  # type: ignore[operator]
    assert clocks[anyone.pk].due_at == started[anyone.pk] + timedelta(seconds=300)  # type: ignore[operator]

    clock.advance(61)
    assert services.sla_breaches_record() == 1
    assert SlaBreach.objects.get().conversation == for_team
    assert SlaBreach.objects.get().team == team
    assert breaches_counted(Kind.FIRST, "售后") == counted + 1

    own.enabled = False
    own.save(update_fields=["enabled"])
    assert sla.sla_state(conversation_id=for_team.pk, now=clock.now()).status is Status.OK  # type: ignore[union-attr]


def test_without_a_policy_no_clock_runs(db: None, clock: ModuleType) -> None:
    conversation = queue_one()
    clock.advance(86_400)
    assert state(conversation, clock) is None
    assert services.sla_breaches_record() == 0


def test_an_off_hours_ticket_starts_its_clock_at_the_opening(db: None, clock: ModuleType, settings: Any) -> None:
    settings.DESK_ROUTING_OFF_HOURS = "queue"
    BusinessHoursFactory(daily=DAILY)
    SlaPolicyFactory(first_response_s=300, warn_before_s=60)
    day = later_day()
    travel(clock, local(day, 22))
    conversation = queue_one()
    opening = local(day + timedelta(days=1), 9)
    assert QueueTicket.objects.get(conversation=conversation).not_before == opening

    running = state(conversation, clock)
    assert running is not None
    assert (running.started_at, running.due_at, running.status) == (opening, opening + timedelta(minutes=5), Status.OK)
    travel(clock, local(day + timedelta(days=1), 8, 59))  # all night waiting: no breach before the shift
    assert services.sla_breaches_record() == 0

    travel(clock, opening + timedelta(seconds=301))
    assert services.sla_breaches_record() == 1
    assert SlaBreach.objects.get().started_at == opening


def test_a_late_first_reply_between_two_beats_is_still_a_breach() -> None:
    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    targets = sla.Targets(first_s=300, next_s=600, warn_s=60)
    late = sla.SlaInput(started_at=t0, first_clock=True, first_agent_at=t0 + timedelta(seconds=310), waiting_since=None)

    assert sla.sla_clock(inputs=late, targets=targets, now=t0 + timedelta(seconds=400)).status is Status.MET
    (missed,) = sla.sla_missed(inputs=late, targets=targets, now=t0 + timedelta(seconds=400))
    assert (missed.kind, missed.due_at) == (Kind.FIRST, t0 + timedelta(seconds=300))
    # Taken straight from the bot: nobody waited, so only a customer's message starts a clock.
    taken = sla.SlaInput(started_at=t0, first_clock=False, first_agent_at=None, waiting_since=None)
    assert sla.sla_clock(inputs=taken, targets=targets, now=t0 + timedelta(hours=1)).status is Status.MET


def test_the_console_shows_each_conversation_clock_and_marks_warnings_and_breaches(
    db: None, clock: ModuleType, on_shift: Callable[..., User]
) -> None:
    SlaPolicyFactory(first_response_s=300, warn_before_s=60)
    agent = on_shift("alice", status="offline")
    waiting = queue_one("c1")
    bot_only = receive("你好", user="c2").message.conversation
    client = Client()
    client.force_login(agent)
    listing = reverse("admin:console_conversations")

    def row_of(html: str, conversation: Conversation) -> str:
        start = html.index(f'data-conversation-id="{conversation.pk}"')
        return html[start : html.index("</tr>", start)]

    html = client.get(f"{listing}?fragment=1").content.decode()
    assert 'class="sla sla-ok" data-kind="first"' in row_of(html, waiting)
    assert 295 <= left_in(row_of(html, waiting)) <= 300
    assert 'class="sla">—' in row_of(html, bot_only)

    clock.advance(250)
    assert 'class="sla sla-warning"' in row_of(client.get(f"{listing}?fragment=1").content.decode(), waiting)
    clock.advance(170)  # 2 minutes overdue
    html = client.get(f"{listing}?fragment=1").content.decode()
    assert 'class="sla sla-breached" data-kind="first" data-left="-120"' in row_of(html, waiting)

    # The conversation page shows the same clock, and its timeline state carries it for the script.
    page = client.get(reverse("admin:console_conversation", args=[waiting.pk])).content.decode()
    assert 'id="conv-sla"><span class="sla sla-breached"' in page
    timeline = client.get(reverse("admin:console_conversation_timeline", args=[waiting.pk])).json()
    assert timeline["state"]["sla"] == {
        "kind": "first",
        "status": "breached",
        "left": -120,
        "warn": 60,
        "label": timeline["state"]["sla"]["label"],
    }
    assert "2" in timeline["state"]["sla"]["label"]
    assert Message.objects.filter(conversation=waiting, author_kind="agent").count() == 0
