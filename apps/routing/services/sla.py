"""SLA breaches: the routing beat records each missed response target once, counts it, and keeps
the gauge of conversations close to a target.

One row per clock (conversation, kind, the clock's start) under a unique constraint, so ticks that
overlap or repeat never write or count a breach twice. A breach is seen within one beat of its
target (DESK_ROUTING_TICK_S); a late first response is caught after the fact too, a late next
response only while it is still unanswered at a beat.
"""

from datetime import datetime

from django.db import IntegrityError, transaction

from apps.core import clock, metrics
from apps.routing import sla
from apps.routing.models import QueueTicket, SlaBreach


def _record(*, ticket: QueueTicket, missed: sla.SlaState, now: datetime) -> bool:
    """Insert one breach; False when a beat before (or beside) this one recorded it already."""
    if missed.started_at is None or missed.due_at is None:  # not a clock that ran: nothing to record
        return False
    clock_of = SlaBreach.objects.filter(
        conversation_id=ticket.conversation_id, kind=missed.kind, started_at=missed.started_at
    )
    if clock_of.exists():  # the usual case for a clock that stays overdue: no failed insert each beat
        return False
    try:
        with transaction.atomic():
            SlaBreach.objects.create(
                conversation_id=ticket.conversation_id,
                kind=missed.kind,
                started_at=missed.started_at,
                ticket_id=ticket.pk,
                due_at=missed.due_at,
                breached_at=now,
                # Whose it was then: the team and agent may change before anyone reads the report.
                team_id=ticket.team_id,
                assignee_id=ticket.conversation.assignee_id,
            )
    except IntegrityError:  # a concurrent beat won the insert
        return False
    return True


def sla_breaches_record(*, now: datetime | None = None) -> int:
    """Record every missed target of the open tickets; how many breaches are new. Sets the gauge of
    conversations at warning as it goes (the beat runs every few seconds)."""
    now = now or clock.now()
    policies = sla.Policies()
    recorded = warning = 0
    for ticket in sla.open_tickets().iterator(chunk_size=500):
        policy = policies.for_team(ticket.team_id)
        if policy is None:
            continue
        inputs, targets = sla.sla_input(ticket), sla.Targets.of(policy)
        if sla.sla_clock(inputs=inputs, targets=targets, now=now).status is sla.SlaStatus.WARNING:
            warning += 1
        for missed in sla.sla_missed(inputs=inputs, targets=targets, now=now):
            if _record(ticket=ticket, missed=missed, now=now):
                recorded += 1
                metrics.sla_breach(kind=missed.kind, team=ticket.team.name if ticket.team else "")
    metrics.sla_warning_set(warning)
    return recorded
