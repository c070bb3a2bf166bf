"""Replies: queue an outbound message, then hand it to its channel exactly once."""

import logging
from functools import cache

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from apps.conversations import events
from apps.conversations.channels import (
    DeliveryDeferred,
    Outbound,
    OutboundMedia,
    OutboundText,
    PermanentDeliveryError,
    get_adapter,
)
from apps.conversations.models import Attachment, Conversation, ConversationEvent, Message
from apps.conversations.services.state import Status, enqueue_delivery, status_set
from apps.core import metrics

logger = logging.getLogger(__name__)


def conversation_reply(
    *,
    conversation: Conversation,
    body: str,
    author_kind: str,
    author_id: int | None = None,
    reply_to: Message | None = None,
    reasoning: str = "",
    answer_ms: int | None = None,
    answer_meta: dict[str, object] | None = None,
    deliver_inline: bool = False,
) -> Message:
    """Queue an outbound message for delivery through the conversation's channel.

    ``deliver_inline`` (workers only): send it from this thread right after the commit instead of
    through a deliver task; a web request must not wait on WeChat's API.
    """
    reply = Message.objects.create(
        conversation=conversation,
        channel=conversation.channel,
        direction=Message.Direction.OUTBOUND,
        author_kind=author_kind,
        author_id=author_id,
        body=body,
        reasoning=reasoning,
        reply_to=reply_to,
        status=Status.PROCESSING,
        # The inline send right after commit is the first attempt: counted here, in the insert,
        # instead of by an UPDATE of its own (message_deliver counts every later one).
        attempts=1 if deliver_inline else 0,
        answer_ms=answer_ms,
        answer_meta=answer_meta or {},
    )
    if deliver_inline:
        _deliver_on_commit(reply)
    else:
        enqueue_delivery(reply.pk)
    events.conversation_changed(conversation_id=conversation.pk, message_id=reply.pk)
    return reply


def _deliver_on_commit(reply: Message) -> None:
    """Deliver in the committing thread; the deliver task (with its retries) is only the fallback.

    A task per reply cost a broker round trip, a second worker hop and ~180 ms at P50 under load
    (bench/load.py); the reply is committed first either way, and what a crash here leaves
    undelivered the sweeper requeues.
    """
    message_id = reply.pk

    def deliver() -> None:
        try:
            _deliver_inline(reply)
        except Exception as exc:  # a transient failure, or anything else: the task retries it
            logger.info("inline delivery of %s failed (%r); queueing the deliver task", message_id, exc)
            from apps.conversations.tasks import deliver as deliver_task

            try:
                deliver_task.apply_async(args=(message_id,), countdown=2)
            except Exception:
                logger.exception("enqueue of deliver(%s) failed; the sweeper will retry", message_id)

    transaction.on_commit(deliver)


def message_deliver(*, message_id: int) -> None:
    """Hand an outbound message to its channel once. Transient errors propagate for a retry."""
    Message.objects.filter(pk=message_id, status=Status.PROCESSING).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        # The row lock is held across the send so a duplicate task waits, then sees "delivered".
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation__customer")
            .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
            # In the same round trip: every reply is delivered here, and few carry a file.
            .annotate(has_media=Exists(Attachment.objects.filter(message=OuterRef("pk"), role=Attachment.Role.MAIN)))
            .first()
        )
        if message is None or message.status != Status.PROCESSING:
            return
        hand_over = _send_locked(message)
    if hand_over is not None:
        # After the message's lock is released: conversation locks come before message locks.
        _hand_over_undelivered(hand_over)


def _deliver_inline(reply: Message) -> None:
    """message_deliver for a bot or system reply its worker has just committed: the same row lock
    and the same send, from the row in memory instead of a re-read with two joins (a third of the
    llm worker's ORM time went to that query). Such a reply is text: no attachment to look up."""
    table = Message._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT status FROM {table} WHERE id = %s FOR UPDATE", [reply.pk])  # noqa: S608
            row = cursor.fetchone()
        if row is None or row[0] != Status.PROCESSING:
            return  # a deliver task or the sweeper's requeue got there first
        reply.has_media = False  # type: ignore[attr-defined]
        hand_over = _send_locked(reply)
    if hand_over is not None:
        _hand_over_undelivered(hand_over)


def _send_locked(message: Message) -> int | None:
    """Send a locked outbound message and record the outcome; the conversation to hand to a person
    when the channel refused it for good."""
    hand_over: int | None = None
    try:
        get_adapter(message.channel).send(_outbound(message))
    except DeliveryDeferred as exc:
        # Nothing went out yet: still processing; the sweeper's grace counts from ``until``.
        Message.objects.filter(pk=message.pk).update(status_changed_at=exc.until)
    except PermanentDeliveryError as exc:
        status_set(message, Status.FAILED, error=str(exc)[:500])
        metrics.delivery_failed(channel=message.channel, reason=exc.code or "permanent")
        hand_over = message.conversation_id if exc.hand_over else None
    else:
        _delivered_set(message)
        metrics.stage_observe("deliver", (timezone.now() - message.created_at).total_seconds())
    return hand_over


@cache
def _delivered_sql() -> str:
    table = Message._meta.db_table
    return f"UPDATE {table} SET status = %s, status_changed_at = %s, delivered_at = %s WHERE id = %s"  # noqa: S608


def _delivered_set(message: Message) -> None:
    """status_set(message, DELIVERED, delivered_at=now): the same columns, in a raw UPDATE by primary
    key that the delivery of every reply would otherwise compile through the ORM."""
    now = timezone.now()
    message.status, message.status_changed_at, message.delivered_at = Status.DELIVERED, now, now
    with connection.cursor() as cursor:
        cursor.execute(_delivered_sql(), [Status.DELIVERED, now, now, message.pk])


def _outbound(message: Message) -> Outbound:
    message_id, conversation_id, channel = message.pk, message.conversation_id, message.channel
    external_id = message.conversation.customer.external_id
    attachment = (
        Attachment.objects.filter(message_id=message.pk, role=Attachment.Role.MAIN).first()
        if getattr(message, "has_media", True)
        else None
    )
    if attachment is None:
        return OutboundText(
            message_id=message_id,
            conversation_id=conversation_id,
            channel=channel,
            customer_external_id=external_id,
            text=message.body,
        )
    from apps.conversations.media.store import attachment_read

    try:
        data = attachment_read(attachment)
    except FileNotFoundError as exc:
        raise PermanentDeliveryError(f"the {attachment.kind} to send is gone: {exc}", code="media_missing") from exc
    return OutboundMedia(
        message_id=message_id,
        conversation_id=conversation_id,
        channel=channel,
        customer_external_id=external_id,
        kind=attachment.kind,
        attachment_id=attachment.pk,
        content_type=attachment.content_type,
        filename=attachment.filename or f"{attachment.kind}.{attachment.content_type.rpartition('/')[2]}",
        data=data,
    )


def _hand_over_undelivered(conversation_id: int) -> None:
    """The channel refused a reply the customer still needs: queue the conversation for a person.

    Only a conversation with the bot moves; one already queued or with a human is already theirs.
    """
    from apps.conversations.services.modes import conversation_lock, conversation_mode_record

    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode != Conversation.Mode.BOT:
            return
        conversation.mode = Conversation.Mode.QUEUED
        conversation_mode_record(conversation, kind=ConversationEvent.Kind.CHANNEL_REFUSED, actor=None, fields=["mode"])
