"""SLA clocks: where each conversation with a human stands against its policy's targets.

The clocks are pure functions of a few timestamps (``SlaInput``) and the targets, so that the
console, the beat that records breaches and the tests agree on one definition:

- first response: from the moment the open ticket queued the conversation (queued off hours: from
  the opening, ``not_before``) to the first agent message since; a stint an agent took straight from
  the bot (assigned the moment it was queued) has no first-response clock, nobody was waiting.
- next response: once an agent has answered, from the earliest customer message after the agent's
  latest one to the next agent message.

Failed agent messages never reached the customer and answer nothing. Messages are ordered by id
(the order they were stored), timed by created_at.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from apps.conversations.models import Conversation, Message
from apps.routing.models import QueueTicket, SlaBreach, SlaPolicy

Kind = SlaBreach.Kind


class SlaStatus(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"  # within the policy's warn_before_s of the target
    BREACHED = "breached"  # past the target, still unanswered
    MET = "met"  # nothing unanswered now


@dataclass(frozen=True)
class Targets:
    first_s: int
    next_s: int
    warn_s: int

    @classmethod
    def of(cls, policy: SlaPolicy) -> "Targets":
        return cls(first_s=policy.first_response_s, next_s=policy.next_response_s, warn_s=policy.warn_before_s)


@dataclass(frozen=True)
class SlaInput:
    started_at: datetime  # the first-response clock's start
    first_clock: bool  # False: taken straight from the bot, only next-response clocks run
    first_agent_at: datetime | None  # the first agent message since the ticket queued it
    waiting_since: datetime | None  # the earliest customer message after the agent's latest one


@dataclass(frozen=True)
class SlaState:
    kind: str  # Kind.FIRST or Kind.NEXT
    status: SlaStatus
    started_at: datetime | None = None
    due_at: datetime | None = None
    warn_s: int = 0  # the policy's warning time: the console recomputes the status as it ticks

    def seconds_left(self, now: datetime) -> int | None:
        """Whole seconds to the target (negative: overdue), None when no clock runs."""
        return None if self.due_at is None else int((self.due_at - now).total_seconds())


def _status(due: datetime, warn_s: int, now: datetime) -> SlaStatus:
    if now > due:
        return SlaStatus.BREACHED
    return SlaStatus.WARNING if now >= due - timedelta(seconds=warn_s) else SlaStatus.OK


def sla_clock(*, inputs: SlaInput, targets: Targets, now: datetime) -> SlaState:
    """The clock running now (first response until an agent answers, then the next response to a
    customer who wrote since), or MET when nobody is waiting for an agent."""
    if inputs.first_clock and inputs.first_agent_at is None:
        due = inputs.started_at + timedelta(seconds=targets.first_s)
        return SlaState(Kind.FIRST, _status(due, targets.warn_s, now), inputs.started_at, due, targets.warn_s)
    if inputs.waiting_since is not None:
        due = inputs.waiting_since + timedelta(seconds=targets.next_s)
        return SlaState(Kind.NEXT, _status(due, targets.warn_s, now), inputs.waiting_since, due, targets.warn_s)
    return SlaState(Kind.NEXT if inputs.first_agent_at else Kind.FIRST, SlaStatus.MET)


def sla_missed(*, inputs: SlaInput, targets: Targets, now: datetime) -> list[SlaState]:
    """The clocks past their target: the running one, and a first response that came late (a reply
    landing between two beats must not hide the breach)."""
    missed: list[SlaState] = []
    running = sla_clock(inputs=inputs, targets=targets, now=now)
    if inputs.first_clock and inputs.first_agent_at is not None:
        due = inputs.started_at + timedelta(seconds=targets.first_s)
        if inputs.first_agent_at > due:
            missed.append(SlaState(Kind.FIRST, SlaStatus.BREACHED, inputs.started_at, due))
    if running.status is SlaStatus.BREACHED:
        missed.append(running)
    return missed


# --- reads ------------------------------------------------------------------------------------


def _agent_messages() -> QuerySet[Message]:
    return Message.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        author_kind=Message.AuthorKind.AGENT,
        created_at__gte=OuterRef("queued_at"),
    ).exclude(status=Message.Status.FAILED)


def open_tickets() -> QuerySet[QueueTicket]:
    """Open tickets of conversations queued for or with a human, with the timestamps the clocks
    need: four subqueries on the (conversation, id) message index, one query for any number."""
    last_agent = _agent_messages().order_by("-id").values("id")[:1]
    waiting = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        direction=Message.Direction.INBOUND,
        author_kind=Message.AuthorKind.CUSTOMER,
        created_at__gte=OuterRef("queued_at"),
        id__gt=OuterRef("sla_last_agent_id"),
    ).order_by("id")
    return (
        QueueTicket.objects.filter(
            ended_at__isnull=True, conversation__mode__in=[Conversation.Mode.QUEUED, Conversation.Mode.HUMAN]
        )
        .annotate(
            # Postgres' GREATEST skips NULLs: no not_before, the queueing itself.
            sla_started_at=Greatest("queued_at", "not_before"),
            sla_first_agent_at=Subquery(_agent_messages().order_by("id").values("created_at")[:1]),
            sla_last_agent_id=Coalesce(Subquery(last_agent, output_field=IntegerField()), Value(0)),
        )
        .annotate(sla_waiting_since=Subquery(waiting.values("created_at")[:1]))
        .select_related("team", "conversation")
        .order_by("pk")
    )


def sla_input(ticket: QueueTicket) -> SlaInput:
    """The clock timestamps of a ticket read through open_tickets()."""
    return SlaInput(
        started_at=getattr(ticket, "sla_started_at", ticket.queued_at),
        first_clock=not (ticket.assigned_at is not None and ticket.assigned_at == ticket.queued_at),
        first_agent_at=getattr(ticket, "sla_first_agent_at", None),
        waiting_since=getattr(ticket, "sla_waiting_since", None),
    )


class Policies:
    """The enabled policies, read once: the team's own, else the default."""

    def __init__(self) -> None:
        rows = list(SlaPolicy.objects.filter(enabled=True))
        self._by_team = {p.team_id: p for p in rows if p.team_id is not None}
        self._default = next((p for p in rows if p.team_id is None), None)

    def for_team(self, team_id: int | None) -> SlaPolicy | None:
        return self._by_team.get(team_id, self._default) if team_id is not None else self._default


def sla_states(*, conversation_ids: list[int], now: datetime) -> dict[int, SlaState]:
    """The running clock of each of these conversations that has one (queued or with a human, under
    a policy): two queries whatever the number."""
    if not conversation_ids:
        return {}
    policies = Policies()
    found: dict[int, SlaState] = {}
    for ticket in open_tickets().filter(conversation_id__in=conversation_ids):
        policy = policies.for_team(ticket.team_id)
        if policy is not None:
            found[ticket.conversation_id] = sla_clock(inputs=sla_input(ticket), targets=Targets.of(policy), now=now)
    return found


def sla_state(*, conversation_id: int, now: datetime) -> SlaState | None:
    return sla_states(conversation_ids=[conversation_id], now=now).get(conversation_id)
