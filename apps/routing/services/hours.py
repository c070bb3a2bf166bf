"""Business hours: whether the desk is open for a channel's customers, when it opens next, and
what a customer who wants a person off hours is told.

A channel's hours are its own BusinessHours row or the default row (no channel); with neither, or
a disabled row, the desk is always open. A Holiday replaces its date's weekday hours. All times
are local to the row's time zone; callers pass the desk's clock (apps.core.clock.now()).
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q

from apps.routing.models import BusinessHours

# How far ahead the next opening is looked for: a long holiday, not a schedule with no hours.
_HORIZON_DAYS = 60
_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
Span = tuple[time, time]


@dataclass(frozen=True)
class Schedule:
    zone: zoneinfo.ZoneInfo
    weekly: dict[int, list[Span]] = field(default_factory=dict)  # weekday (Monday 0) -> spans
    holidays: dict[date, list[Span]] = field(default_factory=dict)  # [] closed all day

    def spans(self, day: date) -> list[Span]:
        if day in self.holidays:
            return self.holidays[day]
        return self.weekly.get(day.weekday(), [])

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return any(opens <= local.time() < closes for opens, closes in self.spans(local.date()))

    def opened_at(self, at: datetime) -> datetime | None:
        """When the span ``at`` lies in opened; None when the desk is closed at ``at``."""
        local = at.astimezone(self.zone)
        for opens, closes in self.spans(local.date()):
            if opens <= local.time() < closes:
                return datetime.combine(local.date(), opens, tzinfo=self.zone)
        return None

    def next_open(self, at: datetime) -> datetime | None:
        """The first opening after ``at`` (``at`` itself when open); None when none is in sight."""
        if self.is_open(at):
            return at
        start = at.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS + 1):
            day = start + timedelta(days=offset)
            for opens, _closes in self.spans(day):
                moment = datetime.combine(day, opens, tzinfo=self.zone)
                if moment > at:
                    return moment
        return None


def schedule_for(*, channel: str, at: datetime) -> Schedule | None:
    """The channel's schedule (its own row, else the default row); None: always open."""
    rows = {row.channel: row for row in BusinessHours.objects.filter(Q(channel=channel) | Q(channel=""))}
    row = rows.get(channel) or rows.get("")
    if row is None or not row.enabled:
        return None
    zone = zoneinfo.ZoneInfo(row.time_zone)
    weekly: dict[int, list[Span]] = {}
    for interval in row.intervals.all():
        weekly.setdefault(interval.weekday, []).append((interval.opens, interval.closes))
    today = at.astimezone(zone).date()
    holidays: dict[date, list[Span]] = {}
    upcoming = row.holidays.filter(date__gte=today - timedelta(days=1), date__lte=today + timedelta(days=_HORIZON_DAYS))
    for holiday in upcoming:
        if holiday.opens is not None and holiday.closes is not None:
            holidays[holiday.date] = [(holiday.opens, holiday.closes)]
        else:
            holidays[holiday.date] = []  # closed all day
    return Schedule(zone=zone, weekly={d: sorted(s) for d, s in weekly.items()}, holidays=holidays)


def _clock(value: time) -> str:
    return f"{value.hour}:{value.minute:02d}"


def hours_label(schedule: Schedule) -> str:
    """The weekly hours as a customer reads them: "周一至周五 9:00-18:00，周六 10:00-16:00"."""
    parts: list[str] = []
    day = 0
    while day < 7:
        spans = schedule.weekly.get(day, [])
        last = day
        while last + 1 < 7 and schedule.weekly.get(last + 1, []) == spans:
            last += 1
        if spans:
            days = _WEEKDAYS[day] if last == day else f"{_WEEKDAYS[day]}至{_WEEKDAYS[last]}"
            parts.append(days + " " + "、".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans))
        day = last + 1
    return "，".join(parts)


def moment_label(moment: datetime, *, now: datetime, zone: zoneinfo.ZoneInfo) -> str:
    """When the desk opens, relative to now: "今天 9:00", "明天 9:00", "10月3日（周五）9:00"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    if local.date() == today:
        return f"今天 {_clock(local.time())}"
    if local.date() == today + timedelta(days=1):
        return f"明天 {_clock(local.time())}"
    return f"{local.month}月{local.day}日（{_WEEKDAYS[local.weekday()]}）{_clock(local.time())}"


@dataclass(frozen=True)
class OffHours:
    next_open: datetime | None
    text: str


def off_hours(*, channel: str, at: datetime) -> OffHours | None:
    """None while the desk is open for the channel; else when it opens and what to tell the customer."""
    schedule = schedule_for(channel=channel, at=at)
    if schedule is None or schedule.is_open(at):
        return None
    opens = schedule.next_open(at)
    label = moment_label(opens, now=at, zone=schedule.zone) if opens is not None else "下一个工作日"
    text = settings.DESK_ROUTING_OFF_HOURS_TEXT.format(hours=hours_label(schedule), next_open=label)
    return OffHours(next_open=opens, text=text)
