"""Business hours: off hours the customer hears when the desk opens; queued for the next shift
(nobody assigned, no follow-ups, before opening) or left with the bot; holidays; time zones.
Time is moved with the desk's clock to a chosen local moment."""

import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from types import ModuleType
from typing import Any

from django.contrib.auth.models import User

from apps.conversations import services as spine
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.routing import services
from apps.routing.models import QueueTicket
from apps.routing.services.hours import Schedule, hours_label, moment_label
from tests.factories import BusinessHoursFactory, HolidayFactory, receive
from tests.routing.conftest import load

Mode = Conversation.Mode
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DAILY = (time(9), time(21))


def travel(clock: ModuleType, moment: datetime) -> None:
    """Move the desk's clock to ``moment`` (forward only: rows keep Django's real clock)."""
    clock.advance((moment - clock.now()).total_seconds())


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def later_day() -> date:
    # Two days ahead: every moment of it lies in the future, where the clock can go.
    return datetime.now(SHANGHAI).date() + timedelta(days=2)


def off_hours_text(settings: Any, next_open: str, hours: str = "周一至周日 9:00-21:00") -> str:
    return str(settings.DESK_ROUTING_OFF_HOURS_TEXT.format(hours=hours, next_open=next_open))


def notices(conversation_id: int) -> list[tuple[str, str]]:
    rows = Message.objects.filter(conversation_id=conversation_id, author_kind=Message.AuthorKind.SYSTEM)
    return [(m.answer_meta.get("notice", ""), m.body) for m in rows.order_by("id")]


def test_a_schedule_knows_when_it_opens_across_nights_holidays_and_special_hours() -> None:
    monday = date(2026, 9, 28)  # a Monday
    schedule = Schedule(
        zone=SHANGHAI,
        weekly={d: [(time(9), time(12)), (time(13), time(18))] for d in range(5)} | {5: [(time(10), time(16))]},
        holidays={monday + timedelta(days=3): [], monday + timedelta(days=4): [(time(10), time(14))]},
    )

    assert schedule.is_open(local(monday, 9))
    assert not schedule.is_open(local(monday, 12, 30))  # lunch
    assert schedule.next_open(local(monday, 12, 30)) == local(monday, 13)
    assert not schedule.is_open(local(monday, 18))  # closing time is closed
    assert schedule.next_open(local(monday, 20)) == local(monday + timedelta(days=1), 9)
    # Thursday is a holiday; Friday opens late for a special day.
    assert not schedule.is_open(local(monday + timedelta(days=3), 10))
    assert schedule.next_open(local(monday + timedelta(days=2), 19)) == local(monday + timedelta(days=4), 10)
    # Saturday's hours, then nothing on Sunday: next Monday.
    assert schedule.next_open(local(monday + timedelta(days=5), 17)) == local(monday + timedelta(days=7), 9)
    # The same instant seen from another zone is still 20:00 in Shanghai.
    assert schedule.is_open(local(monday, 20).astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))) is False

    assert hours_label(schedule) == "周一至周五 9:00-12:00、13:00-18:00，周六 10:00-16:00"
    now = local(monday, 20)
    assert moment_label(local(monday, 21), now=now, zone=SHANGHAI) == "今天 21:00"
    assert moment_label(local(monday + timedelta(days=1), 9), now=now, zone=SHANGHAI) == "明天 9:00"
    assert moment_label(local(monday + timedelta(days=4), 10), now=now, zone=SHANGHAI) == "10月2日（周五）10:00"


def test_without_business_hours_the_desk_is_always_open(db: None, clock: ModuleType) -> None:
    travel(clock, local(later_day(), 3))
    assert services.off_hours(channel="simulator", at=clock.now()) is None
    BusinessHoursFactory(daily=DAILY, enabled=False)
    assert services.off_hours(channel="simulator", at=clock.now()) is None


def test_a_channel_with_its_own_hours_uses_them_instead_of_the_default(db: None, clock: ModuleType) -> None:
    BusinessHoursFactory(daily=DAILY)
    BusinessHoursFactory(channel="wecom_kf", daily=(time(0), time(23, 59)))
    travel(clock, local(later_day(), 22))

    assert services.off_hours(channel="simulator", at=clock.now()) is not None
    assert services.off_hours(channel="wecom_kf", at=clock.now()) is None


def test_off_hours_a_request_for_a_person_waits_for_the_next_shift_with_that_said(
    db: None, clock: ModuleType, on_shift: Callable[..., User], settings: Any
) -> None:
    settings.DESK_ROUTING_OFF_HOURS = "queue"
    BusinessHoursFactory(daily=DAILY)
    alice = on_shift("alice", capacity=2)  # online late: still nobody is assigned before opening
    day = later_day()
    travel(clock, local(day, 22))

    asked = receive("转人工", user="c1").message
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)

    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert conversation.mode == Mode.QUEUED
    # The off-hours message replaces the spine's "please wait" and the place in line.
    assert notices(conversation.pk) == [("off_hours", off_hours_text(settings, "明天 9:00"))]
    ticket = QueueTicket.objects.get(conversation=conversation)
    assert ticket.not_before == local(day + timedelta(days=1), 9)
    assert services.ticket_assign(ticket_id=ticket.pk) is services.Outcome.NOT_YET
    assert services.queue_drain() == 0
    # No follow-up overnight.
    clock.advance(settings.DESK_ROUTING_FOLLOW_UP_S * 3)
    assert services.follow_ups_send() == 0

    travel(clock, local(day + timedelta(days=1), 9, 0) + timedelta(seconds=1))
    assert services.queue_drain() == 1
    conversation.refresh_from_db()
    assert (conversation.mode, conversation.assignee) == (Mode.HUMAN, alice)
    assert load(alice) == 1


def test_off_hours_follow_ups_count_from_the_opening(db: None, clock: ModuleType, settings: Any) -> None:
    BusinessHoursFactory(daily=DAILY)
    day = later_day()
    travel(clock, local(day, 23))
    asked = receive("转人工", user="c1").message
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)

    travel(clock, local(day + timedelta(days=1), 9) + timedelta(seconds=settings.DESK_ROUTING_FOLLOW_UP_S - 5))
    assert services.follow_ups_send() == 0
    clock.advance(10)
    assert services.follow_ups_send() == 1  # nobody on shift at 9: the wait goes on, and they hear so


def test_off_hours_the_bot_keeps_what_it_handed_over_and_says_so_once_a_night(
    db: None, clock: ModuleType, settings: Any
) -> None:
    settings.DESK_ROUTING_OFF_HOURS = "bot"
    BusinessHoursFactory(daily=DAILY)
    day = later_day()
    travel(clock, local(day, 21, 30))

    held = receive("这张图片是什么意思", user="c1").message
    spine.inbound_hand_over(message_id=held.pk)
    conversation = Conversation.objects.get(pk=held.conversation_id)
    assert conversation.mode == Mode.BOT
    assert not QueueTicket.objects.filter(conversation=conversation).exists()
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert kinds == [ConversationEvent.Kind.OFF_HOURS]
    told = off_hours_text(settings, "明天 9:00")
    assert notices(conversation.pk) == [("off_hours", told)]

    # Later the same night: the bot keeps it again, without telling the customer twice.
    clock.advance(3600)
    failed = receive("还是不懂", user="c1").message
    spine.inbound_fail(message_id=failed.pk, reason="empty answer")
    conversation.refresh_from_db()
    assert conversation.mode == Mode.BOT
    assert [n for n, _ in notices(conversation.pk)] == ["off_hours", ""]  # the spine's fallback only

    # Asking for a person is still queued for the morning, and that is said each time they ask.
    asked = receive("转人工", user="c1").message
    spine.conversation_request_human(conversation_id=conversation.pk, message_id=asked.pk)
    conversation.refresh_from_db()
    assert conversation.mode == Mode.QUEUED
    assert notices(conversation.pk)[-1] == ("off_hours", told)
    assert QueueTicket.objects.get(conversation=conversation).not_before == local(day + timedelta(days=1), 9)


def test_a_holiday_is_closed_all_day_and_the_customer_hears_the_next_opening(
    db: None, clock: ModuleType, settings: Any
) -> None:
    day = later_day()
    hours = BusinessHoursFactory(daily=DAILY)
    HolidayFactory(hours=hours, date=day, name="国庆节")
    HolidayFactory(hours=hours, date=day + timedelta(days=1), opens=time(13), closes=time(17))
    travel(clock, local(day, 10))  # a working hour on any other day

    asked = receive("转人工", user="c1").message
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)

    assert notices(asked.conversation_id) == [("off_hours", off_hours_text(settings, "明天 13:00"))]
    ticket = QueueTicket.objects.get(conversation_id=asked.conversation_id)
    assert ticket.not_before == local(day + timedelta(days=1), 13)


def test_in_business_hours_nothing_changes(
    db: None, clock: ModuleType, on_shift: Callable[..., User], settings: Any
) -> None:
    BusinessHoursFactory(daily=DAILY)
    travel(clock, local(later_day(), 10))

    asked = receive("转人工", user="c1").message
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)

    assert notices(asked.conversation_id) == [("", settings.DESK_HUMAN_REQUEST_REPLY)]
    assert QueueTicket.objects.get(conversation_id=asked.conversation_id).not_before is None
