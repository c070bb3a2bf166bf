"""Dashboard figures, each one SQL aggregate over a date range and an optional channel.

Cohorts: message figures count messages created in the range; conversation figures count
conversations created in the range (their later messages included). Days are calendar days in
settings.TIME_ZONE. A conversation "had a human" when it was ever queued for, assigned to or
answered by an agent: a handed-over or failed customer message, an agent message, an assignee,
or a queued/human mode now.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.conversations.models import Conversation, Message
from apps.moderation.models import Flag
from apps.reports.selectors.sla import SlaSummary, sla_summary

Mode = Conversation.Mode
_HANDOFF_STATUSES = (Message.Status.HANDED_OVER, Message.Status.FAILED)


@dataclass(frozen=True)
class ReportRange:
    date_from: date
    date_to: date  # inclusive
    channel: str = ""

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=i) for i in range((self.date_to - self.date_from).days + 1)]


@dataclass(frozen=True)
class DailyMessages:
    day: date
    inbound: int
    outbound: int


@dataclass(frozen=True)
class DailyCount:
    day: date
    count: int


@dataclass(frozen=True)
class Outcomes:
    conversations: int
    closed: int
    closed_without_human: int
    with_human: int

    @property
    def containment_rate(self) -> float | None:
        return _ratio(self.closed_without_human, self.closed)

    @property
    def handoff_rate(self) -> float | None:
        return _ratio(self.with_human, self.conversations)


@dataclass(frozen=True)
class CategoryRate:
    category: str
    messages: int
    rate: float


@dataclass(frozen=True)
class Durations:
    """Seconds; None when nothing was measured."""

    count: int
    median: float | None
    mean: float | None
    p90: float | None


@dataclass(frozen=True)
class Latency:
    endpoint: str  # "" for all endpoints together
    count: int
    total_p50: float | None
    total_p90: float | None
    total_p99: float | None
    ttft_p50: float | None
    ttft_p90: float | None
    ttft_p99: float | None


@dataclass(frozen=True)
class AgentLoad:
    agent_id: int
    username: str
    messages: int
    conversations: int
    open_assigned: int


@dataclass(frozen=True)
class Dashboard:
    range: ReportRange
    messages_per_day: list[DailyMessages]
    conversations_per_day: list[DailyCount]
    outcomes: Outcomes
    customer_messages: int
    flagged: list[CategoryRate]
    first_response_bot: Durations
    first_response_human: Durations
    resolution_bot: Durations
    resolution_human: Durations
    latency: list[Latency]
    cache_hit_rate: float | None
    agents: list[AgentLoad] = field(default_factory=list)
    sla: SlaSummary | None = None

    @property
    def messages_total(self) -> int:
        return sum(d.inbound + d.outbound for d in self.messages_per_day)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _messages(r: ReportRange) -> QuerySet[Message]:
    qs = Message.objects.filter(created_at__gte=r.start, created_at__lt=r.end)
    return qs.filter(channel=r.channel) if r.channel else qs


def _conversations(r: ReportRange) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(created_at__gte=r.start, created_at__lt=r.end)
    return qs.filter(channel=r.channel) if r.channel else qs


def messages_per_day(*, r: ReportRange) -> list[DailyMessages]:
    rows = (
        _messages(r)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            inbound=Count("id", filter=Q(direction=Message.Direction.INBOUND)),
            outbound=Count("id", filter=Q(direction=Message.Direction.OUTBOUND)),
        )
    )
    found = {row["day"]: row for row in rows}
    return [
        DailyMessages(day=d, inbound=found[d]["inbound"], outbound=found[d]["outbound"])
        if d in found
        else DailyMessages(day=d, inbound=0, outbound=0)
        for d in r.days()
    ]


def conversations_per_day(*, r: ReportRange) -> list[DailyCount]:
    rows = (
        _conversations(r)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
    )
    found = {row["day"]: row["n"] for row in rows}
    return [DailyCount(day=d, count=found.get(d, 0)) for d in r.days()]


def _had_human() -> Q:
    """The one definition of "had a human": the outcomes filter on it, the time figures select it."""
    messages = Message.objects.filter(conversation=OuterRef("pk"))
    return (
        Q(assignee__isnull=False)
        | Q(mode__in=[Mode.QUEUED, Mode.HUMAN])
        | Q(Exists(messages.filter(author_kind=Message.AuthorKind.AGENT)))
        | Q(Exists(messages.filter(direction=Message.Direction.INBOUND, status__in=_HANDOFF_STATUSES)))
    )


def conversation_outcomes(*, r: ReportRange) -> Outcomes:
    human = _had_human()
    closed = Q(mode=Mode.CLOSED)
    totals = _conversations(r).aggregate(
        conversations=Count("id"),
        closed=Count("id", filter=closed),
        closed_without_human=Count("id", filter=closed & ~human),
        with_human=Count("id", filter=human),
    )
    return Outcomes(**totals)


def customer_messages_count(*, r: ReportRange) -> int:
    return _messages(r).filter(direction=Message.Direction.INBOUND).count()


def flagged_by_category(*, r: ReportRange) -> list[CategoryRate]:
    """Share of customer messages with a flag of each category, on the message or on its answer
    (a flag on a bot answer points at the customer message it answered). A message counts once per
    category however many terms or rules of that category matched."""
    total = customer_messages_count(r=r)
    sql = f"""
        SELECT e.category, count(DISTINCT f.message_id)
        FROM {Flag._meta.db_table} f
        JOIN {Message._meta.db_table} m ON m.id = f.message_id
        CROSS JOIN LATERAL (
            SELECT item->>'category' AS category
            FROM jsonb_array_elements(
                coalesce(f.evidence->'hits', '[]'::jsonb) || coalesce(f.evidence->'semantic', '[]'::jsonb)
            ) AS item
        ) e
        WHERE m.created_at >= %s AND m.created_at < %s AND m.direction = 'in'
          AND (%s = '' OR m.channel = %s) AND e.category IS NOT NULL
        GROUP BY e.category
        ORDER BY 2 DESC, 1
    """  # noqa: S608 (table names come from model meta, values are parameters)
    rows = _fetch(sql, [r.start, r.end, r.channel, r.channel])
    return [CategoryRate(category=c, messages=n, rate=n / total if total else 0.0) for c, n in rows]


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _first_message(**filters: Any) -> Subquery:
    """When the outer conversation's first message matching ``filters`` was created (NULL if none)."""
    matching = Message.objects.filter(conversation=OuterRef("pk"), **filters)
    return Subquery(matching.order_by("created_at").values("created_at")[:1])


def _cohort(r: ReportRange) -> QuerySet[Conversation]:
    """One row per conversation of the cohort with the moments the time figures need."""
    return (
        _conversations(r)
        .order_by()
        .annotate(
            first_in=_first_message(direction=Message.Direction.INBOUND),
            first_bot=_first_message(author_kind=Message.AuthorKind.BOT),
            first_handoff=_first_message(direction=Message.Direction.INBOUND, status__in=_HANDOFF_STATUSES),
            first_agent=_first_message(author_kind=Message.AuthorKind.AGENT),
            had_human=ExpressionWrapper(_had_human(), output_field=BooleanField()),
        )
    )


_COHORT_COLUMNS = ("created_at", "closed_at", "first_in", "first_bot", "first_handoff", "first_agent", "had_human")


def _durations(cohort: QuerySet[Conversation], sql_seconds: str, where: str) -> Durations:
    """Aggregate one per-conversation duration expression (seconds) over the cohort's rows that
    pass ``where``; both are fixed SQL fragments over _COHORT_COLUMNS."""
    cohort_sql, params = cohort.values(*_COHORT_COLUMNS).query.sql_with_params()
    sql = f"""
        SELECT count(s), percentile_cont(0.5) WITHIN GROUP (ORDER BY s), avg(s),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY s)
        FROM (SELECT {sql_seconds} AS s FROM ({cohort_sql}) c WHERE {where}) t
        WHERE s IS NOT NULL
    """  # noqa: S608 (fixed SQL fragments from this module and the ORM's own SQL; values are parameters)
    count, median, mean, p90 = _fetch(sql, list(params))[0]
    return Durations(count=count, median=_f(median), mean=_f(mean), p90=_f(p90))


def _f(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def first_response_times(*, r: ReportRange) -> tuple[Durations, Durations]:
    """(bot, human): first customer message -> first bot answer; first message the bot left to a
    human -> the first agent message."""
    cohort = _cohort(r)
    bot = _durations(cohort, "extract(epoch FROM first_bot - first_in)", "first_bot >= first_in")
    human = _durations(cohort, "extract(epoch FROM first_agent - first_handoff)", "first_agent >= first_handoff")
    return bot, human


def resolution_times(*, r: ReportRange) -> tuple[Durations, Durations]:
    """(bot, human): conversation start -> closed, for closed conversations without / with a human."""
    closed = _cohort(r).filter(mode=Mode.CLOSED, closed_at__isnull=False)
    seconds = "extract(epoch FROM closed_at - created_at)"
    return _durations(closed, seconds, "NOT had_human"), _durations(closed, seconds, "had_human")


def llm_latency(*, r: ReportRange) -> list[Latency]:
    """Percentiles (ms) of the bot's answer time (Message.answer_ms) and time to first token
    (answer_meta.ttft_ms), all endpoints first, then one row per endpoint."""
    sql = f"""
        SELECT coalesce(answer_meta->>'endpoint', ''), grouping(answer_meta->>'endpoint'), count(*),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY answer_ms),
          percentile_cont(0.9) WITHIN GROUP (ORDER BY answer_ms),
          percentile_cont(0.99) WITHIN GROUP (ORDER BY answer_ms),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY (answer_meta->>'ttft_ms')::float),
          percentile_cont(0.9) WITHIN GROUP (ORDER BY (answer_meta->>'ttft_ms')::float),
          percentile_cont(0.99) WITHIN GROUP (ORDER BY (answer_meta->>'ttft_ms')::float)
        FROM {Message._meta.db_table}
        WHERE author_kind = 'bot' AND answer_ms IS NOT NULL
          AND created_at >= %s AND created_at < %s AND (%s = '' OR channel = %s)
        GROUP BY ROLLUP (answer_meta->>'endpoint')
        ORDER BY 2 DESC, 1
    """  # noqa: S608
    rows = _fetch(sql, [r.start, r.end, r.channel, r.channel])
    return [
        Latency(
            endpoint="" if rollup else endpoint,
            count=count,
            total_p50=_f(t50),
            total_p90=_f(t90),
            total_p99=_f(t99),
            ttft_p50=_f(f50),
            ttft_p90=_f(f90),
            ttft_p99=_f(f99),
        )
        for endpoint, rollup, count, t50, t90, t99, f50, f90, f99 in rows
    ]


def cache_hit_rate(*, r: ReportRange) -> float | None:
    """Share of bot answers served from the answer cache (answer_meta.source = "cache") among bot
    answers that record their source; None ("n/a") when none does (answers from before the cache)."""
    bot = _messages(r).filter(author_kind=Message.AuthorKind.BOT, answer_meta__has_key="source")
    totals = bot.aggregate(n=Count("id"), hits=Count("id", filter=Q(answer_meta__source="cache")))
    return _ratio(totals["hits"], totals["n"])


def agent_workload(*, r: ReportRange) -> list[AgentLoad]:
    """Per agent: messages sent and conversations answered in the range; open conversations assigned now."""
    sent = {
        row["author_id"]: row
        for row in _messages(r)
        .filter(author_kind=Message.AuthorKind.AGENT, author__isnull=False)
        .values("author_id")
        .annotate(messages=Count("id"), conversations=Count("conversation_id", distinct=True))
    }
    open_qs = Conversation.objects.filter(mode__in=[Mode.QUEUED, Mode.HUMAN], assignee__isnull=False)
    if r.channel:
        open_qs = open_qs.filter(channel=r.channel)
    assigned = {row["assignee_id"]: row["n"] for row in open_qs.values("assignee_id").annotate(n=Count("id"))}
    ids = set(sent) | set(assigned)
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    loads = [
        AgentLoad(
            agent_id=pk,
            username=names.get(pk, str(pk)),
            messages=sent[pk]["messages"] if pk in sent else 0,
            conversations=sent[pk]["conversations"] if pk in sent else 0,
            open_assigned=assigned.get(pk, 0),
        )
        for pk in ids
    ]
    return sorted(loads, key=lambda a: (-a.messages, -a.open_assigned, a.username))


def dashboard_get(*, r: ReportRange) -> Dashboard:
    first_bot, first_human = first_response_times(r=r)
    resolution_bot, resolution_human = resolution_times(r=r)
    outcomes = conversation_outcomes(r=r)
    return Dashboard(
        range=r,
        messages_per_day=messages_per_day(r=r),
        conversations_per_day=conversations_per_day(r=r),
        outcomes=outcomes,
        customer_messages=customer_messages_count(r=r),
        flagged=flagged_by_category(r=r),
        first_response_bot=first_bot,
        first_response_human=first_human,
        resolution_bot=resolution_bot,
        resolution_human=resolution_human,
        latency=llm_latency(r=r),
        cache_hit_rate=cache_hit_rate(r=r),
        agents=agent_workload(r=r),
        sla=sla_summary(r=r, with_human=outcomes.with_human),
    )
