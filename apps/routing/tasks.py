"""Celery entry points of routing. Each takes ids (or nothing), calls services, and is idempotent."""

from celery import shared_task

from apps.routing import services


@shared_task
def assign_ticket(ticket_id: int) -> str:
    """Right after a conversation enters the queue; a customer left waiting hears their place."""
    outcome = services.ticket_assign(ticket_id=ticket_id)
    if outcome is services.Outcome.NO_ROOM:
        services.queue_tell_position(ticket_id=ticket_id)
    return outcome.value


@shared_task
def drain_queue() -> int:
    """A seat may have freed up (an agent came online, closed or handed back a conversation)."""
    return services.queue_drain()


@shared_task
def routing_tick() -> dict[str, int]:
    """The beat's safety net (DESK_ROUTING_TICK_S): whatever an enqueue lost, follow-ups, presence,
    missed response targets (SLA breaches)."""
    return {
        "away": services.presence_sweep(),
        "assigned": services.queue_drain(),
        "follow_ups": services.follow_ups_send(),
        "sla_breaches": services.sla_breaches_record(),
    }


@shared_task
def idle_close() -> int:
    """The beat (DESK_IDLE_CLOSE_TICK_S): close the conversations nobody wrote in for too long."""
    return services.conversations_close_idle()
