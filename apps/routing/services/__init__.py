"""Writes of routing: tickets and what a waiting customer hears (queue), the assigner (assign: one
ticket; drain: the waiting line in batches), availability and presence (availability), business
hours (hours), idle conversations closing (lifecycle), missed response targets (sla).

Lock order extends the spine's: customer -> conversation -> queue ticket -> agent status rows (in
pk order). Nothing here takes a conversation lock while holding an agent status row.
"""

from apps.routing.services.assign import Outcome, agent_lock, ticket_assign, ticket_give
from apps.routing.services.availability import (
    agent_conversations_release,
    agent_status_set,
    presence_connect,
    presence_disconnect,
    presence_sweep,
)
from apps.routing.services.drain import BatchResult, queue_drain, tickets_assign
from apps.routing.services.hours import OffHours, Schedule, off_hours, schedule_for
from apps.routing.services.lifecycle import (
    NOTICE_ABANDONED,
    NOTICE_IDLE_CLOSE,
    conversation_close_abandoned,
    conversation_close_idle,
    conversations_close_idle,
)
from apps.routing.services.queue import (
    NOTICE_ACK,
    NOTICE_FOLLOW_UP,
    NOTICE_OFF_HOURS,
    NOTICE_QUEUE,
    follow_ups_send,
    queue_ack,
    queue_enter,
    queue_tell_position,
    ticket_follow,
    ticket_open,
)
from apps.routing.services.sla import sla_breaches_record

__all__ = [
    "NOTICE_ABANDONED",
    "NOTICE_ACK",
    "NOTICE_FOLLOW_UP",
    "NOTICE_IDLE_CLOSE",
    "NOTICE_OFF_HOURS",
    "NOTICE_QUEUE",
    "BatchResult",
    "OffHours",
    "Outcome",
    "Schedule",
    "agent_conversations_release",
    "agent_lock",
    "agent_status_set",
    "conversation_close_abandoned",
    "conversation_close_idle",
    "conversations_close_idle",
    "follow_ups_send",
    "off_hours",
    "presence_connect",
    "presence_disconnect",
    "presence_sweep",
    "queue_ack",
    "queue_drain",
    "queue_enter",
    "queue_tell_position",
    "schedule_for",
    "sla_breaches_record",
    "ticket_assign",
    "ticket_follow",
    "ticket_give",
    "ticket_open",
    "tickets_assign",
]
