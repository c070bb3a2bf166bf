"""The assigner: a waiting ticket goes to the online agent of its team with the most free seats
(ties: the one assigned longest ago), under row locks so that concurrent assigners never give one
conversation twice nor an agent more than their capacity.

Lock order: customer -> conversation (the spine's conversation_lock) -> ticket -> agent status rows,
the few best candidates at once in pk order; loads are counted again under those locks, since the
candidate list was read without them. The queue drain assigns in batches instead (drain.py);
this path is for one ticket right after its conversation was queued, where latency matters.
"""

import enum
from datetime import UTC, datetime

from django.db import transaction

from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services import conversation_lock, conversation_mode_record
from apps.core import clock
from apps.routing import selectors
from apps.routing.models import AgentStatus, QueueTicket

Mode = Conversation.Mode
# How many of the best candidates one assignment locks: enough that a concurrent assigner filling
# the best one leaves a choice, few enough that assigners of one team rarely queue on each other.
PICK = 4
_NEVER = datetime.min.replace(tzinfo=UTC)


class Outcome(enum.Enum):
    ASSIGNED = "assigned"
    NO_ROOM = "no_room"  # nobody of the team has a free seat now
    GONE = "gone"  # the ticket is no longer waiting (assigned, ended, or the conversation left the queue)
    NOT_YET = "not_yet"  # queued off hours: it waits for the next shift (QueueTicket.not_before)


def preference(agent: AgentStatus, free: int) -> tuple[int, datetime, int]:
    """Who gets the next conversation first (the smaller, the sooner): most free seats, then the
    one assigned longest ago (round robin among equals), then pk."""
    return (-free, agent.last_assigned_at or _NEVER, agent.pk)


def agent_lock(*, team_id: int | None, exclude_user_id: int | None = None) -> AgentStatus | None:
    """Lock and return the agent who should take the next conversation of ``team_id``, or None."""
    ids = list(
        selectors.agents_with_room(team_id=team_id, exclude_user_id=exclude_user_id).values_list("pk", flat=True)[:PICK]
    )
    if not ids:
        return None
    locked = list(
        AgentStatus.objects.select_for_update().filter(pk__in=ids, status=AgentStatus.Status.ONLINE).order_by("pk")
    )
    held = selectors.loads(user_ids=[agent.user_id for agent in locked])
    free = {agent.pk: agent.capacity - held.get(agent.user_id, 0) for agent in locked}
    room = [agent for agent in locked if free[agent.pk] > 0]
    if not room:
        return None
    return min(room, key=lambda agent: preference(agent, free[agent.pk]))


def ticket_give(*, conversation: Conversation, ticket: QueueTicket, agent: AgentStatus) -> None:
    """Give the locked conversation to the locked agent; recorded and audited by the spine."""
    now = clock.now()
    ticket.assigned_at, ticket.assignee_id = now, agent.user_id
    ticket.save(update_fields=["assigned_at", "assignee"])
    AgentStatus.objects.filter(pk=agent.pk).update(last_assigned_at=now)
    conversation.mode, conversation.assignee_id = Mode.HUMAN, agent.user_id
    conversation_mode_record(
        conversation, kind=ConversationEvent.Kind.AUTO_ASSIGNED, actor=None, fields=["mode", "assignee"]
    )


def ticket_assign(*, ticket_id: int, conversation_id: int | None = None) -> Outcome:
    """Try to give one waiting ticket's conversation to an agent. Idempotent. ``conversation_id``:
    the ticket's, when the caller read it already (the drain), saving a query."""
    if conversation_id is None:
        conversation_id = QueueTicket.objects.filter(pk=ticket_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        return Outcome.GONE
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        ticket = QueueTicket.objects.select_for_update().get(pk=ticket_id)
        if ticket.ended_at is not None or ticket.assigned_at is not None:
            return Outcome.GONE
        if conversation.mode != Mode.QUEUED:
            # It left the queue another way (a staff phone message, say) without telling routing.
            ticket.ended_at = clock.now()
            ticket.save(update_fields=["ended_at"])
            return Outcome.GONE
        if ticket.not_before is not None and ticket.not_before > clock.now():
            return Outcome.NOT_YET
        agent = agent_lock(team_id=ticket.team_id)
        if agent is None:
            return Outcome.NO_ROOM
        ticket_give(conversation=conversation, ticket=ticket, agent=agent)
    return Outcome.ASSIGNED
