"""The queue drain: the waiting line offered to agents in batches, one transaction per batch.

Per-ticket transactions (ticket_assign) pay a dozen statements per assignment, the spine's record
with its audit-chain lock included; a drain of hundreds of tickets pays them hundreds of times. A
batch pays them once: it locks its customers, conversations and tickets, then every online agent
who may take one of them, counts their loads once, matches in queue order with ticket_assign's
rule, and writes tickets, agents and the spine's record in bulk.

Lock order is ticket_assign's (customer -> conversation -> ticket -> agent status rows), each kind
taken in pk order, so batches and single assignments may wait on each other but never deadlock.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import OuterRef

from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services import conversations_lock, conversations_mode_record_many
from apps.core import clock
from apps.core.bulk import rows_update
from apps.routing import selectors
from apps.routing.models import AgentStatus, QueueTicket, Team
from apps.routing.services.assign import preference

Mode = Conversation.Mode
# A waiting ticket as the drain reads the line: (ticket id, conversation id, team id).
Row = tuple[int, int, int | None]
_TICK = timedelta(microseconds=1)
_DRAIN_LOCK = 0x647261696E  # "drain"; apps.audit's chain lock is another key


@dataclass
class _Seat:
    """A locked agent as the batch sees it: free seats and last assignment move as it matches."""

    agent: AgentStatus
    free: int
    teams: frozenset[int]
    given: bool = False

    def key(self) -> tuple[int, datetime, int]:
        return preference(self.agent, self.free)  # agent_lock's rule


@dataclass
class BatchResult:
    assigned: int = 0
    full: set[int | None] = field(default_factory=set)  # teams that had no free seat for a ticket


def queue_drain(*, limit: int = 5000) -> int:
    """Offer the waiting tickets, oldest first, to agents with room; returns how many were assigned.

    A team found without a free seat is skipped for the rest of the pass, so a long line behind a
    full team costs one look, not one lock per customer."""
    rows: list[Row] = list(
        selectors.assignable(now=clock.now()).values_list("pk", "conversation_id", "team_id")[:limit]
    )
    size = settings.DESK_ROUTING_DRAIN_BATCH
    assigned, at = 0, 0
    full: set[int | None] = set()
    while True:
        batch: list[Row] = []
        while at < len(rows) and len(batch) < size:
            if rows[at][2] not in full:
                batch.append(rows[at])
            at += 1
        if not batch:
            return assigned
        result = tickets_assign(rows=batch)
        assigned += result.assigned
        full |= result.full
        if None in full:  # nobody online has a free seat, whatever the team
            return assigned


def tickets_assign(*, rows: list[Row]) -> BatchResult:
    """Give as many of these waiting tickets (in queue order) as seats allow, in one transaction.

    Each ticket is decided as ticket_assign would decide it, one after the other: the same checks
    under lock, the same choice of agent, the seats taken by the tickets before it counted."""
    with transaction.atomic():
        # Drains take turns per batch: concurrent ones read the same line, and without this each
        # would lock every batch's customers in turn only to find its tickets given away. The row
        # locks below, not this, keep assignments right (ticket_assign does not take it).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DRAIN_LOCK])
        still = set(
            QueueTicket.objects.filter(
                pk__in=[pk for pk, _, _ in rows], assigned_at__isnull=True, ended_at__isnull=True
            ).values_list("pk", flat=True)
        )
        rows = [row for row in rows if row[0] in still]
        if not rows:
            return BatchResult()
        conversations = {c.pk: c for c in conversations_lock([conversation_id for _, conversation_id, _ in rows])}
        tickets = QueueTicket.objects.select_for_update().filter(pk__in=[pk for pk, _, _ in rows]).order_by("pk")
        by_pk = {ticket.pk: ticket for ticket in tickets}
        now = clock.now()
        live: list[tuple[QueueTicket, Conversation]] = []
        for ticket_id, _, _ in rows:
            ticket = by_pk.get(ticket_id)
            if ticket is None or ticket.ended_at is not None or ticket.assigned_at is not None:
                continue
            conversation = conversations.get(ticket.conversation_id)
            if conversation is not None:
                live.append((ticket, conversation))
        # Only the teams of tickets that may be assigned now: agents are not locked for the rest.
        team_ids = {
            ticket.team_id
            for ticket, conversation in live
            if conversation.mode == Mode.QUEUED and (ticket.not_before is None or ticket.not_before <= now)
        }
        seats = _seats_lock(team_ids=team_ids) if team_ids else []
        return _give(tickets=live, seats=seats, now=now)


def _seats_lock(*, team_ids: set[int | None]) -> list[_Seat]:
    """Lock, in pk order, every online agent who may take a ticket of these teams (None: anyone),
    and count their loads under the locks: the batch's picture of who has room."""
    rows = AgentStatus.objects.filter(status=AgentStatus.Status.ONLINE)
    teams = {team_id for team_id in team_ids if team_id is not None}
    Membership = Team.members.through
    if None not in team_ids:
        rows = rows.filter(user_id__in=Membership.objects.filter(team_id__in=teams).values("user_id"))
    if teams:  # the teams each agent may serve, read with the lock
        member_of = Membership.objects.filter(user_id=OuterRef("user_id"), team_id__in=teams).values("team_id")
        rows = rows.annotate(team_ids=ArraySubquery(member_of))
    # Full agents are locked too: whether one has room is only known once it is locked.
    agents = list(rows.select_for_update(of=("self",)).order_by("pk"))
    if not agents:
        return []
    held = selectors.loads(user_ids=[agent.user_id for agent in agents])
    return [
        _Seat(
            agent=agent,
            free=agent.capacity - held.get(agent.user_id, 0),
            teams=frozenset(getattr(agent, "team_ids", ())),
        )
        for agent in agents
    ]


def _give(*, tickets: list[tuple[QueueTicket, Conversation]], seats: list[_Seat], now: datetime) -> BatchResult:
    """Decide the locked tickets in queue order as ticket_assign would, then write it all in bulk."""
    result = BatchResult()
    # One instant per assignment, later than any the agents hold, so that round robin orders this
    # batch's assignments, and the next batch's view of them, as one-by-one assignments would be.
    stamp = max([now, *(s.agent.last_assigned_at + _TICK for s in seats if s.agent.last_assigned_at)])
    given: list[Conversation] = []
    assigned_tickets: list[QueueTicket] = []
    ended: list[QueueTicket] = []
    by_team: dict[int | None, list[_Seat]] = {None: seats}
    for ticket, conversation in tickets:
        if ticket.team_id in result.full:
            continue  # as the one-by-one drain did: not even looked at (nor ended) after its team filled
        if conversation.mode != Mode.QUEUED:
            # It left the queue another way (a staff phone message, say) without telling routing.
            ticket.ended_at = now
            ended.append(ticket)
            continue
        if ticket.not_before is not None and ticket.not_before > now:
            continue
        if ticket.team_id not in by_team:
            by_team[ticket.team_id] = [s for s in seats if ticket.team_id in s.teams]
        seat = min((s for s in by_team[ticket.team_id] if s.free > 0), key=_Seat.key, default=None)
        if seat is None:
            result.full.add(ticket.team_id)
            continue
        seat.free -= 1
        seat.given = True
        seat.agent.last_assigned_at = stamp
        ticket.assigned_at, ticket.assignee_id = stamp, seat.agent.user_id
        conversation.mode, conversation.assignee_id = Mode.HUMAN, seat.agent.user_id
        assigned_tickets.append(ticket)
        given.append(conversation)
        stamp += _TICK
    if ended:
        rows_update(ended, ["ended_at"])
    if not given:
        return result
    rows_update(assigned_tickets, ["assigned_at", "assignee"])
    rows_update([s.agent for s in seats if s.given], ["last_assigned_at"])
    conversations_mode_record_many(
        given, kind=ConversationEvent.Kind.AUTO_ASSIGNED, actor=None, fields=["mode", "assignee"]
    )
    result.assigned = len(given)
    return result
