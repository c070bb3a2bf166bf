"""Lifecycle figures of the range's conversations (the dashboard's cohort: created in the range,
optional channel), overall, per agent and per team, each family in one grouped SQL aggregate.

Definitions (seconds for times; a rate is None when its whole is 0):
- closed / by end reason: conversations closed now, by Conversation.end_reason; bot containment
  = bot_resolved / closed.
- first response: the queued_at of the conversation's first queue ticket -> the first agent
  message sent after it (failed sends answer nothing); conversations never queued, or queued and
  never answered, have none.
- resolution: created_at -> closed_at of the closed conversations.
- queue wait: queued_at -> assigned_at of each ticket that was assigned (one per stint).
- CSAT: answered ratings (score 1-5): count, mean, share of 4-5.
- SLA compliance: conversations with a human and no SlaBreach over those with a human (sla.py's
  definition, the dashboard tile).

Attribution: a conversation's agent is its assignee (at the close, or now) and its team the team
of its latest queue ticket; a ticket's wait goes to its own assignee and team; a rating to the
agent it names (the assignee at the close) and the conversation's team. Rows without an agent or
team (the bot's conversations) count only in the overall row.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, QuerySet, Subquery

from apps.conversations.models import Conversation, Message, Satisfaction
from apps.reports.selectors.dashboard import ReportRange, _conversations, _f, _fetch, _had_human
from apps.reports.selectors.sla import sla_summary
from apps.routing.models import QueueTicket, SlaBreach, Team

EndReason = Conversation.EndReason


@dataclass(frozen=True)
class Times:
    """Seconds; None when nothing was measured."""

    count: int = 0
    median: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Csat:
    count: int = 0
    mean: float | None = None
    satisfied: int = 0  # scores 4-5

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.count if self.count else None


@dataclass(frozen=True)
class LifecycleRow:
    label: str  # "" for the overall row, else the agent's username or the team's name
    closed: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    first_response: Times = Times()
    resolution: Times = Times()
    queue_wait: Times = Times()
    csat: Csat = Csat()
    with_human: int = 0
    breached: int = 0

    @property
    def bot_resolved(self) -> int:
        return self.by_reason.get(EndReason.BOT_RESOLVED, 0)

    @property
    def containment(self) -> float | None:
        return self.bot_resolved / self.closed if self.closed else None

    @property
    def sla_compliance(self) -> float | None:
        return (self.with_human - self.breached) / self.with_human if self.with_human else None


@dataclass(frozen=True)
class Lifecycle:
    overall: LifecycleRow
    agents: list[LifecycleRow]
    teams: list[LifecycleRow]


# Group keys: 'all' (overall), 'agent' or 'team'; each query groups by the same three sets.
_GROUPS = "GROUPING SETS ((), (g_agent), (g_team))"
_KEY = "CASE WHEN grouping(g_agent) = 0 THEN 'agent' WHEN grouping(g_team) = 0 THEN 'team' ELSE 'all' END"


def _latest_team() -> Subquery:
    tickets = QueueTicket.objects.filter(conversation=OuterRef("pk")).order_by("-queued_at", "-pk")
    return Subquery(tickets.values("team_id")[:1])


def _cohort(r: ReportRange, team_id: int | None, agent_id: int | None) -> QuerySet[Conversation]:
    first_queued = QueueTicket.objects.filter(conversation=OuterRef("pk")).order_by("queued_at", "pk")
    reply = Message.objects.filter(
        conversation=OuterRef("pk"),
        author_kind=Message.AuthorKind.AGENT,
        direction=Message.Direction.OUTBOUND,
        created_at__gte=OuterRef("first_queued"),
    ).exclude(status=Message.Status.FAILED)
    qs = (
        _conversations(r)
        .order_by()
        .annotate(
            g_agent=F("assignee_id"),
            g_team=_latest_team(),
            first_queued=Subquery(first_queued.values("queued_at")[:1]),
        )
        .annotate(
            first_reply=Subquery(reply.order_by("created_at").values("created_at")[:1]),
            had_human=ExpressionWrapper(_had_human(), output_field=BooleanField()),
            breached=Exists(SlaBreach.objects.filter(conversation=OuterRef("pk"))),
        )
    )
    return _narrow(qs, team_id, agent_id)


def _narrow(qs: QuerySet[Any], team_id: int | None, agent_id: int | None) -> QuerySet[Any]:
    if team_id is not None:
        qs = qs.filter(g_team=team_id)
    if agent_id is not None:
        qs = qs.filter(g_agent=agent_id)
    return qs


def _grouped(qs: QuerySet[Any], columns: tuple[str, ...], select: str) -> list[tuple[Any, ...]]:
    """Rows (key, agent id, team id, *select) of ``select`` (fixed SQL over ``columns``) grouped
    overall, per agent and per team."""
    inner, params = qs.values(*columns).query.sql_with_params()
    sql = f"SELECT {_KEY}, g_agent, g_team, {select} FROM ({inner}) c GROUP BY {_GROUPS}"  # noqa: S608 (fixed fragments; values are parameters)
    return _fetch(sql, list(params))


def _times(count: int, median: Any, mean: Any) -> Times:
    return Times(count=count, median=_f(median), mean=_f(mean))


_REASONS = [choice.value for choice in EndReason]
_MEDIAN = "percentile_cont(0.5) WITHIN GROUP (ORDER BY {s})"


def _conversation_figures(cohort: QuerySet[Conversation]) -> dict[tuple[str, Any], dict[str, Any]]:
    closed = "mode = 'closed'"
    frt = "extract(epoch FROM first_reply - first_queued)"
    res = f"CASE WHEN {closed} AND closed_at IS NOT NULL THEN extract(epoch FROM closed_at - created_at) END"
    reasons = ", ".join(f"count(*) FILTER (WHERE {closed} AND end_reason = '{reason}')" for reason in _REASONS)
    select = (
        f"count(*) FILTER (WHERE {closed}), {reasons},"
        f" count({frt}), {_MEDIAN.format(s=frt)}, avg({frt}),"
        f" count({res}), {_MEDIAN.format(s=res)}, avg({res}),"
        " count(*) FILTER (WHERE had_human), count(*) FILTER (WHERE had_human AND breached)"
    )
    columns = ("g_agent", "g_team", "mode", "end_reason", "created_at", "closed_at", "first_queued", "first_reply")
    rows = _grouped(cohort, (*columns, "had_human", "breached"), select)
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    n = len(_REASONS)
    for key, agent, team, closed_n, *rest in rows:
        counts, (fc, fm, fa, rc, rm, ra, human, breached) = rest[:n], rest[n:]
        found[_id(key, agent, team)] = {
            "closed": closed_n,
            "by_reason": {reason: c for reason, c in zip(_REASONS, counts, strict=True) if c},
            "first_response": _times(fc, fm, fa),
            "resolution": _times(rc, rm, ra),
            "with_human": human,
            "breached": breached,
        }
    return found


def _id(key: str, agent: Any, team: Any) -> tuple[str, Any]:
    return (key, agent if key == "agent" else team if key == "team" else None)


def _queue_waits(r: ReportRange, team_id: int | None, agent_id: int | None) -> dict[tuple[str, Any], Times]:
    tickets = QueueTicket.objects.filter(conversation__in=_conversations(r).values("pk"), assigned_at__isnull=False)
    tickets = _narrow(tickets.order_by().annotate(g_agent=F("assignee_id"), g_team=F("team_id")), team_id, agent_id)
    wait = "extract(epoch FROM assigned_at - queued_at)"
    select = f"count({wait}), {_MEDIAN.format(s=wait)}, avg({wait})"
    rows = _grouped(tickets, ("g_agent", "g_team", "queued_at", "assigned_at"), select)
    return {_id(key, a, t): _times(c, m, avg) for key, a, t, c, m, avg in rows}


def _csat(r: ReportRange, team_id: int | None, agent_id: int | None) -> dict[tuple[str, Any], Csat]:
    ratings = Satisfaction.objects.filter(
        conversation__in=_conversations(r).values("pk"), score__isnull=False
    ).order_by()
    team = QueueTicket.objects.filter(conversation=OuterRef("conversation_id")).order_by("-queued_at", "-pk")
    ratings = ratings.annotate(g_agent=F("agent_id"), g_team=Subquery(team.values("team_id")[:1]))
    select = "count(score), avg(score), count(*) FILTER (WHERE score >= 4)"
    rows = _grouped(_narrow(ratings, team_id, agent_id), ("g_agent", "g_team", "score"), select)
    return {_id(key, a, t): Csat(count=c, mean=_f(m), satisfied=s) for key, a, t, c, m, s in rows}


def lifecycle_figures(*, r: ReportRange, team_id: int | None = None, agent_id: int | None = None) -> Lifecycle:
    """The figures of the range's conversations (only those of ``team_id`` / ``agent_id`` if given),
    overall and per agent and team: three grouped queries plus the names."""
    convs = _conversation_figures(_cohort(r, team_id, agent_id))
    waits = _queue_waits(r, team_id, agent_id)
    ratings = _csat(r, team_id, agent_id)
    keys = set(convs) | set(waits) | set(ratings)
    agent_ids = {pk for kind, pk in keys if kind == "agent" and pk is not None}
    team_ids = {pk for kind, pk in keys if kind == "team" and pk is not None}
    agent_names = dict(get_user_model().objects.filter(pk__in=agent_ids).values_list("pk", "username"))
    team_names = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))

    def row(key: tuple[str, Any], label: str) -> LifecycleRow:
        return LifecycleRow(
            label=label,
            **convs.get(key, {}),
            queue_wait=waits.get(key, Times()),
            csat=ratings.get(key, Csat()),
        )

    overall = row(("all", None), "")
    if team_id is None and agent_id is None:
        # Unfiltered, the overall compliance is sla.py's, the dashboard tile's, to the digit.
        summary = sla_summary(r=r, with_human=overall.with_human)
        overall = replace(overall, breached=summary.conversations_breached)
    agents = sorted((row(("agent", pk), agent_names.get(pk, str(pk))) for pk in agent_ids), key=lambda x: x.label)
    teams = sorted((row(("team", pk), team_names.get(pk, str(pk))) for pk in team_ids), key=lambda x: x.label)
    return Lifecycle(overall=overall, agents=agents, teams=teams)
