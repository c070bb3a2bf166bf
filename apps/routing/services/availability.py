"""Availability: an agent sets online / away / offline in the console; their console tabs keep a
presence count in Redis, and an agent with no tab for DESK_ROUTING_AWAY_AFTER_S is marked away.
Going offline hands their open conversations back (DESK_ROUTING_ON_OFFLINE: the queue or a teammate).
"""

import logging

import redis
from django.conf import settings
from django.db import transaction

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services import conversation_lock, conversation_mode_record, conversation_queue_announce
from apps.core import clock
from apps.core.redis import cache_redis
from apps.core.side_effects import enqueue_on_commit
from apps.routing.models import AgentStatus, QueueTicket
from apps.routing.services.assign import agent_lock, ticket_give

logger = logging.getLogger(__name__)
Mode = Conversation.Mode
Status = AgentStatus.Status


def agent_status_set(*, user_id: int, status: str, actor_id: int | None, auto: bool = False) -> AgentStatus:
    """Set an agent's availability (``auto``: by the presence sweep, undone when a tab reconnects)."""
    if status not in Status.values:
        raise ValueError(f"unknown status {status!r}")
    with transaction.atomic():
        AgentStatus.objects.get_or_create(user_id=user_id)
        row = AgentStatus.objects.select_for_update().get(user_id=user_id)
        previous = row.status
        if previous == status and row.away_auto == auto:
            return row
        row.status, row.away_auto, row.changed_at = status, auto and status == Status.AWAY, clock.now()
        row.save(update_fields=["status", "away_auto", "changed_at"])
        audit_record(
            kind=AuditLog.Kind.STAFF if actor_id is not None else AuditLog.Kind.SYSTEM,
            event=AuditEvent.AGENT_AVAILABILITY,
            actor_id=actor_id,
            details={"agent_id": user_id, "from": previous, "to": status, "auto": auto},
        )
        if status == Status.ONLINE:
            from apps.routing import tasks

            enqueue_on_commit(tasks.drain_queue)
    if status == Status.OFFLINE and previous != Status.OFFLINE:
        agent_conversations_release(user_id=user_id)
    return row


def agent_conversations_release(*, user_id: int) -> int:
    """Hand an offline agent's open conversations on; each in its own transaction. Returns how many."""
    held = Conversation.objects.filter(assignee_id=user_id, mode=Mode.HUMAN).values_list("pk", flat=True)
    return sum(_release(conversation_id=conversation_id, user_id=user_id) for conversation_id in list(held))


def _release(*, conversation_id: int, user_id: int) -> bool:
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode != Mode.HUMAN or conversation.assignee_id != user_id:
            return False
        if not AgentStatus.objects.filter(user_id=user_id, status=Status.OFFLINE).exists():
            return False  # back online meanwhile
        now = clock.now()
        stint = QueueTicket.objects.filter(conversation=conversation, ended_at__isnull=True).first()
        if stint is not None:
            stint.ended_at = now
            stint.save(update_fields=["ended_at"])
        team_id = stint.team_id if stint is not None else None
        # Back in line where it first stood, not behind everyone who came since.
        queued_at = stint.queued_at if stint is not None else now
        if settings.DESK_ROUTING_ON_OFFLINE == "teammate":
            teammate = agent_lock(team_id=team_id, exclude_user_id=user_id)
            if teammate is not None:
                ticket = QueueTicket.objects.create(
                    conversation=conversation, team_id=team_id, reason="teammate", queued_at=queued_at
                )
                ticket_give(conversation=conversation, ticket=ticket, agent=teammate)
                return True
        QueueTicket.objects.create(conversation=conversation, team_id=team_id, reason="requeued", queued_at=queued_at)
        conversation.mode, conversation.assignee_id = Mode.QUEUED, None
        conversation_mode_record(
            conversation, kind=ConversationEvent.Kind.REQUEUED, actor=None, fields=["mode", "assignee"]
        )
        conversation_queue_announce(conversation, reason="requeued")
    return True


def _key(user_id: int) -> str:
    return f"routing:presence:{user_id}"


# Never below zero: a disconnect without its connect (a restarted web process) must not leave a
# debt that hides the agent's next tab.
_DISCONNECT = """
local n = redis.call('HINCRBY', KEYS[1], 'tabs', -1)
if n < 0 then redis.call('HSET', KEYS[1], 'tabs', 0) end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
return n
"""


def presence_connect(*, user_id: int) -> None:
    """A console tab of the agent connected; an agent marked away by the sweep is online again."""
    try:
        pipe = cache_redis().pipeline()
        pipe.hincrby(_key(user_id), "tabs", 1)
        pipe.hset(_key(user_id), "seen", str(clock.now().timestamp()))
        pipe.execute()
    except redis.RedisError:
        logger.warning("presence of agent %s not recorded", user_id, exc_info=True)
    if AgentStatus.objects.filter(user_id=user_id, status=Status.AWAY, away_auto=True).exists():
        agent_status_set(user_id=user_id, status=Status.ONLINE, actor_id=None, auto=True)


def presence_disconnect(*, user_id: int) -> None:
    try:
        cache_redis().eval(_DISCONNECT, 1, _key(user_id), str(clock.now().timestamp()))
    except redis.RedisError:
        logger.warning("presence of agent %s not recorded", user_id, exc_info=True)


def presence_sweep() -> int:
    """Mark away every online agent whose console tabs have all been closed (or who never opened
    one since going online) for DESK_ROUTING_AWAY_AFTER_S. Returns how many."""
    now = clock.now().timestamp()
    online = list(AgentStatus.objects.filter(status=Status.ONLINE).values_list("user_id", "changed_at"))
    if not online:
        return 0
    pipe = cache_redis().pipeline()
    for user_id, _ in online:
        pipe.hmget(_key(user_id), "tabs", "seen")
    marked = 0
    for (user_id, changed_at), (tabs, seen) in zip(online, pipe.execute(), strict=True):
        if tabs is not None and int(tabs) > 0:
            continue
        last = max(float(seen) if seen is not None else 0.0, changed_at.timestamp() if changed_at else 0.0)
        if now - last >= settings.DESK_ROUTING_AWAY_AFTER_S:
            agent_status_set(user_id=user_id, status=Status.AWAY, actor_id=None, auto=True)
            marked += 1
    return marked
