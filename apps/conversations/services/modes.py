"""Who serves a conversation: the bot, the queue or a human. What every channel needs of it.

The spine records each change of mode or assignee the same way (event row, audit row,
websocket nudge) and tells the conversation's channel after commit through the adapter's
``conversation_changed`` hook. The console's actions (take over, hand back, assign, close)
are the console's services and call ``conversation_mode_record`` like the spine's own.

Lock order, as everywhere: customer -> conversation -> message.
"""

import logging
from collections.abc import Collection, Sequence
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.audit.events import AuditEvent, audit_event
from apps.audit.models import AuditLog
from apps.audit.services import AuditRow, audit_record, audit_record_many
from apps.conversations import events, signals
from apps.conversations.channels import PermanentDeliveryError, get_adapter, overrides_hook
from apps.conversations.models import Conversation, ConversationEvent, Customer, Message
from apps.conversations.pipeline import get_human_request_detector
from apps.conversations.services.outbound import conversation_reply
from apps.conversations.services.satisfaction import satisfaction_request
from apps.conversations.services.state import Mode, Status, exchange_audit
from apps.core import clock, metrics
from apps.core.bulk import rows_update
from apps.core.side_effects import enqueue_on_commit

logger = logging.getLogger(__name__)


def asks_for_human(text: str) -> bool:
    """Whether the customer asks for a person: the DESK_HUMAN_REQUEST_DETECTOR step decides."""
    return get_human_request_detector().asks(text=text).asks


def conversation_lock(conversation_id: int) -> Conversation:
    """Lock a conversation (and its customer first, in the project's lock order)."""
    customer_id = Conversation.objects.values_list("customer_id", flat=True).get(pk=conversation_id)
    list(Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True))
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def conversations_lock(conversation_ids: Collection[int]) -> list[Conversation]:
    """Lock many conversations, in pk order, after all their customers, in pk order.

    The same order as conversation_lock (customer -> conversation), each kind sorted, so two
    batches, or a batch and a single lock, wait on each other at worst, never deadlock. Those
    that no longer exist are left out."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    customers = Conversation.objects.filter(pk__in=ids).values("customer_id")
    list(Customer.objects.select_for_update().filter(pk__in=customers).order_by("pk").values_list("pk", flat=True))
    return list(Conversation.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _event(conversation: Conversation, *, kind: str, actor_id: int | None) -> ConversationEvent:
    return ConversationEvent(
        conversation=conversation, kind=kind, actor_id=actor_id, assignee_id=conversation.assignee_id
    )


def _audit_row(conversation: Conversation, *, kind: str, actor_id: int | None) -> AuditRow:
    return AuditRow(
        kind=AuditLog.Kind.STAFF if actor_id is not None else AuditLog.Kind.SYSTEM,
        event=audit_event(f"conversation.{kind}"),
        actor_id=actor_id,
        channel=conversation.channel,
        conversation_id=conversation.pk,
        details={"mode": conversation.mode, "assignee_id": conversation.assignee_id},
    )


def _announce(conversation: Conversation, *, kind: str) -> None:
    events.conversation_changed(conversation_id=conversation.pk)
    _channel_notify(conversation)
    signals.conversation_mode_changed.send(sender=Conversation, conversation=conversation, kind=kind)
    # Counted once committed: a rolled-back take-over switched nothing (the seed's context switches).
    transaction.on_commit(partial(metrics.mode_switched, conversation.mode))


def conversation_mode_record(
    conversation: Conversation, *, kind: str, actor: AbstractBaseUser | None, fields: list[str]
) -> Conversation:
    """Save a locked conversation's new mode/assignee and announce it (all after commit)."""
    actor_id = actor.pk if actor is not None else None
    conversation.save(update_fields=[*fields, "updated_at"])
    _event(conversation, kind=kind, actor_id=actor_id).save()
    audit_record(**_audit_row(conversation, kind=kind, actor_id=actor_id))
    _announce(conversation, kind=kind)
    return conversation


def conversations_mode_record_many(
    conversations: Sequence[Conversation], *, kind: str, actor: AbstractBaseUser | None, fields: list[str]
) -> None:
    """conversation_mode_record for many locked conversations in one go (the assigner's batches):
    the same rows, audit chain, nudges, channel hooks and signals as one call per conversation, in
    a handful of statements instead of a handful per conversation."""
    if not conversations:
        return
    # A bulk write skips auto_now: stamp updated_at as save() would.
    now = timezone.now()
    for conversation in conversations:
        conversation.updated_at = now
    rows_update(conversations, [*fields, "updated_at"])
    actor_id = actor.pk if actor is not None else None
    ConversationEvent.objects.bulk_create([_event(c, kind=kind, actor_id=actor_id) for c in conversations])
    audit_record_many([_audit_row(c, kind=kind, actor_id=actor_id) for c in conversations])
    for conversation in conversations:
        _announce(conversation, kind=kind)


def conversation_queue_announce(
    conversation: Conversation,
    *,
    reason: str,
    message: Message | None = None,
    details: dict[str, object] | None = None,
) -> Message | None:
    """The locked conversation has just entered the queue: tell the listeners (routing), in this
    transaction. Returns the message a listener sent the customer about their wait, if one did."""
    responses = signals.conversation_queued.send(
        sender=Conversation, conversation=conversation, reason=reason, message=message, details=details or {}
    )
    for _receiver, told in responses:
        if isinstance(told, Message):
            return told
    return None


def customer_waiting_announce(conversation: Conversation, *, message: Message) -> None:
    """A customer message was left to the humans while the locked conversation waits in the queue."""
    signals.customer_waiting.send(sender=Conversation, conversation=conversation, message=message)


def conversation_channel_set(
    *,
    conversation_id: int,
    mode: str,
    assignee_id: int | None,
    kind: str,
    actor: AbstractBaseUser | None = None,
    end_reason: str = "",
) -> Conversation:
    """A channel reports who serves the conversation now (its own staff took it, it ended there).

    Nothing is recorded when nothing changes, so a channel may report the same state again.
    ``end_reason`` (an EndReason, for mode closed): how it ended, when the channel knows; else
    whoever served it last resolved it.
    """
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode == mode and conversation.assignee_id == assignee_id:
            return conversation
        if mode == Mode.CLOSED:
            return _end(conversation, reason=end_reason or _served_by(conversation), actor=actor, kind=kind)
        conversation.mode = mode
        conversation.assignee_id = assignee_id
        conversation_mode_record(conversation, kind=kind, actor=actor, fields=["mode", "assignee"])
        if mode == Mode.QUEUED:
            conversation_queue_announce(conversation, reason=kind)
        return conversation


def _channel_notify(conversation: Conversation) -> None:
    # No task for the channels whose adapter leaves the hook a no-op (the simulator, say).
    if not overrides_hook(conversation.channel, "conversation_changed"):
        return
    from apps.conversations.tasks import channel_conversation_changed

    enqueue_on_commit(channel_conversation_changed, conversation.pk, conversation.mode, conversation.assignee_id)


def channel_conversation_changed(*, conversation_id: int, mode: str, assignee_id: int | None) -> None:
    """Run the channel's hook for a committed change. TransientDeliveryError propagates for a retry."""
    channel = Conversation.objects.values_list("channel", flat=True).get(pk=conversation_id)
    try:
        get_adapter(channel).conversation_changed(conversation_id=conversation_id, mode=mode, assignee_id=assignee_id)
    except PermanentDeliveryError as exc:
        logger.warning(
            "conversation %s: the %s channel refused the change to %s: %s", conversation_id, channel, mode, exc
        )


def conversation_request_human(*, conversation_id: int, message_id: int | None = None) -> Conversation:
    """The customer asked for a person: queue the conversation and tell them so."""
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        message = Message.objects.select_for_update().get(pk=message_id) if message_id is not None else None
        if message is not None and message.status not in (Status.RECEIVED, Status.PROCESSING):
            return conversation  # a retry of a message already handled
        told: Message | None = None
        if conversation.mode == Mode.BOT:
            conversation.mode = Mode.QUEUED
            conversation_mode_record(
                conversation, kind=ConversationEvent.Kind.REQUESTED_HUMAN, actor=None, fields=["mode"]
            )
            # Routing, when installed, may answer with the customer's place in the queue instead.
            told = conversation_queue_announce(conversation, reason="requested_human", message=message)
        if told is None:
            told = conversation_reply(
                conversation=conversation,
                body=settings.DESK_HUMAN_REQUEST_REPLY,
                author_kind=Message.AuthorKind.SYSTEM,
                reply_to=message,
            )
        if message is not None:
            message.status = Status.HANDED_OVER
            message.status_changed_at = timezone.now()
            message.save(update_fields=["status", "status_changed_at"])
            exchange_audit(
                event=AuditEvent.BOT_HUMAN_REQUESTED,
                conversation=conversation,
                message=message,
                response=told.body,
            )
    return conversation


EndReason = Conversation.EndReason


def _served_by(conversation: Conversation) -> str:
    return EndReason.AGENT_RESOLVED if conversation.mode == Mode.HUMAN else EndReason.BOT_RESOLVED


def _end(conversation: Conversation, *, reason: str, actor: AbstractBaseUser | None, kind: str) -> Conversation:
    # Nobody served a customer who was still waiting, whoever closes it and why.
    conversation.end_reason = EndReason.ABANDONED if conversation.mode == Mode.QUEUED else EndReason(reason)
    conversation.mode = Mode.CLOSED
    # The desk's clock: the reopen grace is timed from it (apps/core/clock.py).
    conversation.closed_at = clock.now()
    conversation_mode_record(conversation, kind=kind, actor=actor, fields=["mode", "closed_at", "end_reason"])
    # After the close is recorded, so a channel that asks itself finds the request in its hook.
    satisfaction_request(conversation)
    return conversation


def conversation_end(*, conversation_id: int, reason: str, actor: AbstractBaseUser | None = None) -> Conversation:
    """Close a conversation and record how it ended (an EndReason; a queued one ends abandoned).

    The customer's next message opens a new conversation, or reopens this one within
    DESK_REOPEN_GRACE_S (services.receive). Closing a closed conversation changes nothing."""
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            return conversation
        return _end(conversation, reason=reason, actor=actor, kind=ConversationEvent.Kind.CLOSED)


def conversation_reopen(conversation: Conversation) -> Conversation:
    """The customer wrote again soon after the locked, closed conversation ended: the bot serves it
    again. The caller holds the customer's lock and has checked that no other conversation is open."""
    conversation.mode, conversation.assignee_id = Mode.BOT, None
    conversation.closed_at, conversation.end_reason = None, ""
    return conversation_mode_record(
        conversation,
        kind=ConversationEvent.Kind.REOPENED,
        actor=None,
        fields=["mode", "assignee", "closed_at", "end_reason"],
    )
