"""Reads of routing: who has room, where a ticket stands in line, how long the wait may be."""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.conversations.models import Conversation, Message
from apps.routing.models import AgentStatus, QueueTicket, RoutingRule

Online = AgentStatus.Status.ONLINE


def rule_team(*, channel: str, text: str, categories: set[str], label_ids: set[int] | None = None) -> int | None:
    """The team of the first enabled rule whose conditions all hold; None when no rule does.
    ``label_ids``: the customer's labels (customers.CustomerLabel of their person)."""
    folded = text.casefold()
    for rule in RoutingRule.objects.filter(enabled=True).order_by("priority", "pk"):
        if rule.channel and rule.channel != channel:
            continue
        if rule.customer_label_id is not None and rule.customer_label_id not in (label_ids or set()):
            continue
        if rule.moderation_category and rule.moderation_category not in categories:
            continue
        keywords = [k.strip().casefold() for k in rule.keywords.replace("，", ",").split(",") if k.strip()]
        if keywords and not any(keyword in folded for keyword in keywords):
            continue
        return rule.team_id
    return None


def moderation_categories(details: dict[str, Any]) -> set[str]:
    """The categories of the moderation hits in the spine's audit details (verdict_in/verdict_out)."""
    found: set[str] = set()
    for key in ("verdict_in", "verdict_out"):
        verdict = details.get(key)
        evidence = verdict.get("evidence", {}) if isinstance(verdict, dict) else {}
        for group in ("hits", "semantic"):
            for hit in evidence.get(group, []) if isinstance(evidence, dict) else []:
                if isinstance(hit, dict) and hit.get("category"):
                    found.add(str(hit["category"]))
    return found


def _load() -> Coalesce:
    # Open human conversations an agent holds: the (assignee, mode) index answers it per agent.
    held = (
        Conversation.objects.filter(assignee_id=OuterRef("user_id"), mode=Conversation.Mode.HUMAN)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(held, output_field=IntegerField()), Value(0))


def agents_with_room(*, team_id: int | None, exclude_user_id: int | None = None) -> QuerySet[AgentStatus]:
    """Online agents (of the team; of any team for None) below capacity: most free seats first,
    then the one assigned longest ago (round robin among equals)."""
    rows = AgentStatus.objects.filter(status=Online)
    if team_id is not None:
        rows = rows.filter(user__routing_teams=team_id)
    if exclude_user_id is not None:
        rows = rows.exclude(user_id=exclude_user_id)
    return (
        rows.annotate(load=_load())
        .annotate(free=ExpressionWrapper(F("capacity") - F("load"), output_field=IntegerField()))
        .filter(free__gt=0)
        .order_by("-free", F("last_assigned_at").asc(nulls_first=True), "pk")
    )


def loads(*, user_ids: list[int]) -> dict[int, int]:
    rows = (
        Conversation.objects.filter(assignee_id__in=user_ids, mode=Conversation.Mode.HUMAN)
        .order_by()
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    )
    return {user_id: n for user_id, n in rows}


@dataclass(frozen=True)
class Seats:
    online: int  # agents online (in the team)
    capacity: int  # their seats together
    free: int  # seats not taken


def seats(*, team_id: int | None) -> Seats:
    rows = AgentStatus.objects.filter(status=Online)
    if team_id is not None:
        rows = rows.filter(user__routing_teams=team_id)
    found = list(rows.annotate(load=_load()).values_list("capacity", "load"))
    capacity = sum(c for c, _ in found)
    return Seats(online=len(found), capacity=capacity, free=sum(max(0, c - n) for c, n in found))


def waiting(*, team_id: int | None = None, any_team: bool = True) -> QuerySet[QueueTicket]:
    rows = QueueTicket.objects.filter(assigned_at__isnull=True, ended_at__isnull=True)
    if not any_team:
        rows = rows.filter(team_id=team_id) if team_id is not None else rows.filter(team__isnull=True)
    return rows.order_by("queued_at", "pk")


def assignable(*, now: datetime) -> QuerySet[QueueTicket]:
    """Waiting tickets the assigner may offer now: not those queued off hours for a later shift."""
    return waiting().filter(Q(not_before__isnull=True) | Q(not_before__lte=now))


def position(*, ticket: QueueTicket) -> int:
    """1-based place in the ticket's team's line."""
    ahead = waiting(team_id=ticket.team_id, any_team=False).filter(
        Q(queued_at__lt=ticket.queued_at) | Q(queued_at=ticket.queued_at, pk__lt=ticket.pk)
    )
    return ahead.count() + 1


def handle_seconds(*, team_id: int | None) -> float:
    """Median handle time of the team's recent tickets (of all teams when it has none yet)."""
    sample = settings.DESK_ROUTING_HANDLE_SAMPLE
    # A stint cut short by the agent going offline was not a handling: the conversation went on in a
    # later ticket that kept its place in line (the same queued_at). Counted, a few seconds each, they
    # made the estimate shrink as the line grew.
    handed_on = QueueTicket.objects.filter(
        conversation_id=OuterRef("conversation_id"), queued_at=OuterRef("queued_at"), pk__gt=OuterRef("pk")
    )
    done = QueueTicket.objects.filter(assigned_at__isnull=False, ended_at__isnull=False).exclude(Exists(handed_on))
    for rows in (done.filter(team_id=team_id) if team_id is not None else done.none(), done):
        spans = list(rows.order_by("-ended_at").values_list("assigned_at", "ended_at")[:sample])
        if spans:
            return statistics.median((end - start).total_seconds() for start, end in spans if start and end)
    return float(settings.DESK_ROUTING_DEFAULT_HANDLE_S)


def wait_minutes(*, team_id: int | None, place: int) -> int:
    """Each seat frees about once per median handle time; ``place`` customers go before a seat is ours."""
    capacity = max(1, seats(team_id=team_id).capacity)
    return max(1, round(place * handle_seconds(team_id=team_id) / capacity / 60))


def follow_ups_due(*, now: datetime) -> QuerySet[QueueTicket]:
    since = now - timedelta(seconds=settings.DESK_ROUTING_FOLLOW_UP_S)
    # Nobody nags overnight: a ticket queued off hours counts its wait from the opening.
    return (
        assignable(now=now)
        .filter(follow_ups__lt=settings.DESK_ROUTING_FOLLOW_UP_MAX)
        .annotate(last_told=Coalesce("follow_up_sent_at", "not_before", "queued_at"))
        .filter(last_told__lte=since)
    )


def idle(*, mode: str, before: datetime) -> QuerySet[Conversation]:
    """Conversations in ``mode`` with no message either way (customer, bot, agent) since ``before``.

    last_message_at (customer messages; the mode/recency index) narrows the rows, the latest
    message of any direction decides: an agent who keeps writing keeps the conversation open."""
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id").values("created_at")[:1]
    return (
        Conversation.objects.filter(mode=mode)
        .filter(Q(last_message_at__lte=before) | Q(last_message_at__isnull=True, created_at__lte=before))
        .annotate(last_activity=Coalesce(Subquery(latest), F("created_at")))
        .filter(last_activity__lte=before)
        .order_by(F("last_message_at").asc(nulls_first=True), "pk")
    )


def abandoned(*, before: datetime) -> QuerySet[Conversation]:
    """Queued conversations whose customer has said nothing since ``before`` while waiting since
    before it too. The wait counts from the opening for a ticket queued off hours (not_before):
    nobody abandons a line that has not started to move."""
    since = QueueTicket.objects.filter(conversation=OuterRef("pk"), assigned_at__isnull=True, ended_at__isnull=True)
    waiting_since = since.annotate(start=Coalesce("not_before", "queued_at")).order_by("-queued_at").values("start")[:1]
    return (
        # last_message_at: the customer's latest message (the spine sets it on receipt only).
        Conversation.objects.filter(mode=Conversation.Mode.QUEUED)
        .filter(Q(last_message_at__lte=before) | Q(last_message_at__isnull=True))
        .annotate(waiting_since=Subquery(waiting_since))
        .filter(waiting_since__lte=before)
        .order_by("waiting_since", "pk")
    )


def availability(*, user_id: int) -> dict[str, Any]:
    """What the console's availability control shows."""
    status = AgentStatus.objects.filter(user_id=user_id).first()
    return {
        "status": status.status if status is not None else AgentStatus.Status.OFFLINE,
        "capacity": status.capacity if status is not None else AgentStatus._meta.get_field("capacity").default,
        "load": loads(user_ids=[user_id]).get(user_id, 0),
        "choices": AgentStatus.Status.choices,
    }
