"""Processing a customer message: claim it, moderate, answer, moderate, reply — or hand over.

Every path that settles a message writes its audit row in the same transaction.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.conversations import events, selectors
from apps.conversations.models import Attachment, Conversation, Message
from apps.conversations.pipeline import Answer, Verdict, get_answerer, get_moderator, get_shop_step
from apps.conversations.services.lease import lease_held
from apps.conversations.services.modes import (
    asks_for_human,
    conversation_queue_announce,
    conversation_request_human,
    customer_waiting_announce,
)
from apps.conversations.services.outbound import conversation_reply
from apps.conversations.services.state import (
    Mode,
    Status,
    columns_of,
    conversation_lock,
    exchange_audit,
    lock_inbound,
    row_to,
    status_set,
)
from apps.core import metrics

logger = logging.getLogger(__name__)


_MESSAGE = Message._meta.db_table
# The claim and the read of what processing needs, in one statement (issue 22: the ORM's compile
# of the claim's UPDATE and of the read with its join and Exists was ~10 % of an llm worker).
# Still a compare-and-set on status='received': no row back means another worker has the message
# or it is settled. Beside the rows: whether it has an attachment (media preparation looks them up
# only then), and whether it is its conversation's first message (no context to read: a first
# contact, 75 % of bench/load.py's 40 s mix). The conversation row is read, not locked.
_CLAIM = f"""
UPDATE {_MESSAGE} AS m SET status = %s, status_changed_at = %s, processing_started_at = %s, attempts = m.attempts + 1
FROM {Conversation._meta.db_table} AS c
WHERE m.id = %s AND m.direction = %s AND m.status = %s AND c.id = m.conversation_id
RETURNING {columns_of(Message, "m")}, {columns_of(Conversation, "c")},
    EXISTS (SELECT 1 FROM {Attachment._meta.db_table} AS a WHERE a.message_id = m.id),
    NOT EXISTS (SELECT 1 FROM {_MESSAGE} AS e WHERE e.conversation_id = m.conversation_id AND e.id < m.id)
"""  # noqa: S608 (table and column names from _meta, values as parameters)
_CONVERSATION_AT = len(Message._meta.concrete_fields)
_HAS_MEDIA_AT = _CONVERSATION_AT + len(Conversation._meta.concrete_fields)


def _claim(message_id: int) -> tuple[Message, bool] | None:
    """Claim a received message and read it with its conversation: the message (``has_media`` set)
    and whether it opened its conversation; None when another worker has it or it is done."""
    # Python's clock, not the database's: the lease and the sweeper compare these with it (and
    # tests freeze it).
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [Status.PROCESSING, now, now, message_id, Message.Direction.INBOUND, Status.RECEIVED])
        row = cursor.fetchone()
    if row is None:
        return None
    message = row_to(Message, row[:_CONVERSATION_AT])
    conversation = row_to(Conversation, row[_CONVERSATION_AT:_HAS_MEDIA_AT])
    Message.conversation.field.set_cached_value(message, conversation)
    message.has_media = row[_HAS_MEDIA_AT]  # type: ignore[attr-defined]
    return message, row[_HAS_MEDIA_AT + 1]


def inbound_claim(*, message_id: int) -> bool:
    """Take a received message for processing. False when another worker has it or it is done."""
    return _claim(message_id) is not None


def inbound_release(*, message_id: int, error: str, retry_in: float = 0) -> None:
    """Give a claimed message back so a retry can claim it again (in ``retry_in`` seconds)."""
    # The sweeper requeues a received message DESK_RECEIVED_GRACE_SECONDS after its status changed:
    # dated at the scheduled retry, the grace counts from then, and a retry that is merely not due
    # yet is not taken for a lost one (which the sweeper still requeues, the grace after it was due).
    changed_at = timezone.now() + timedelta(seconds=retry_in)
    Message.objects.filter(pk=message_id, status=Status.PROCESSING).update(
        status=Status.RECEIVED, status_changed_at=changed_at, error=error[:500]
    )


def _verdict(verdict: Verdict) -> dict[str, object]:
    return {"action": verdict.action, **({"evidence": verdict.evidence} if verdict.evidence else {})}


def inbound_process(*, message_id: int) -> None:
    """Moderate, answer and reply to one customer message. Safe to run any number of times."""
    claimed = _claim(message_id)
    if claimed is None:
        return
    message, first = claimed
    # Renewed while this process works on it, however long the model takes; if the process dies,
    # the renewals stop and the sweeper reclaims the message one short lease later.
    with lease_held(message_id):
        _claimed_process(message=message, first=first)


def _claimed_process(*, message: Message, first: bool) -> None:
    """``first``: the message opened its conversation, so there are no earlier turns to read."""
    message_id = message.pk
    conversation = message.conversation
    moderator = get_moderator()
    # Imported here: media calls back into this package (receive).
    from apps.conversations.media.prepare import message_prepare

    prepared = message_prepare(message=message)  # fetches and reads an image or voice note first
    if prepared.hand_over:
        details: dict[str, object] = {"media": prepared.media, "reason": prepared.hand_over}
        inbound_hand_over(message_id=message_id, details=details, notice=settings.DESK_MEDIA_HUMAN_NOTICE)
        return
    text = prepared.text
    media_audit: dict[str, object] = {"media": prepared.media} if prepared.media else {}
    verdict_in = moderator.check(text=text, direction="in", message_id=message.pk)
    if verdict_in.evidence:
        events.flags_changed()
    audit_in: dict[str, object] = {**media_audit, "verdict_in": _verdict(verdict_in)}
    if verdict_in.action == "block":
        blocked = Answer(text=settings.DESK_MODERATION_BLOCKED_REPLY)
        _reply_commit(message=message, answer=blocked, event=AuditEvent.BOT_BLOCKED, details=audit_in)
        return
    if verdict_in.action == "review" or conversation.mode != Mode.BOT:
        inbound_hand_over(message_id=message_id, details=audit_in)
        return
    if asks_for_human(text):
        conversation_request_human(conversation_id=conversation.pk, message_id=message_id)
        return

    context = (
        []
        if first
        else selectors.conversation_context(
            conversation=conversation, before_id=message.pk, turns=settings.DESK_CONTEXT_TURNS
        )
    )
    started = time.monotonic()
    question = prepared.question(verdict_in.text)
    shop = get_shop_step()
    answer = shop.answer(conversation_id=conversation.pk, question=question) if shop else None
    if answer is None:
        answer = get_answerer().answer(conversation_id=conversation.pk, question=question, context=context)
    answer_ms = int((time.monotonic() - started) * 1000)
    metrics.stage_observe("answer", answer_ms / 1000)
    if answer.hand_over:
        # The answerer declined (e.g. its draft stated what the knowledge base does not): a person
        # answers, and the customer hears so once, not silence.
        details = {**audit_in, "reason": answer.hand_over, "answer_meta": answer.meta}
        inbound_hand_over(
            message_id=message_id,
            details=details,
            notice=answer.notice or settings.DESK_ANSWER_HUMAN_NOTICE,
            notice_kind="answer",
        )
        return

    verdict_out = moderator.check(text=answer.text, direction="out", message_id=message.pk)
    if verdict_out.evidence:
        events.flags_changed()
    audit: dict[str, object] = {**audit_in, "verdict_out": _verdict(verdict_out)}
    if verdict_out.action in ("block", "review"):
        # A withheld answer must never reach the customer; a human takes it from here.
        reason = f"answer withheld by moderation ({verdict_out.action})"
        inbound_fail(message_id=message_id, reason=reason, details=audit)
        return
    if not verdict_out.text.strip():
        inbound_fail(message_id=message_id, reason="empty answer", details=audit)
        return
    answer = Answer(text=verdict_out.text, reasoning=answer.reasoning, meta=answer.meta)
    _reply_commit(message=message, answer=answer, answer_ms=answer_ms, details=audit)


# Compare-and-set on the message's status: the UPDATE both re-checks it and locks the row, where a
# locked read and a later UPDATE took two statements. Run under the conversation's lock, so the lock
# order stays conversation, message, then the audit chain's.
_SETTLE = f"UPDATE {_MESSAGE} SET status = %s, status_changed_at = %s WHERE id = %s AND status IN (%s, %s)"  # noqa: S608
_ANSWER = (
    f"UPDATE {_MESSAGE} SET status = %s, status_changed_at = %s, answered_at = %s, answer_ms = %s"  # noqa: S608
    " WHERE id = %s AND status IN (%s, %s)"
)
_UNSETTLED = (Status.RECEIVED, Status.PROCESSING)


def _reply_commit(
    *,
    message: Message,
    answer: Answer,
    answer_ms: int = 0,
    event: AuditEvent = AuditEvent.BOT_ANSWER,
    details: dict[str, object] | None = None,
) -> None:
    """Settle a claimed message with its reply, unless another worker settled it first.

    ``message``: as claimed (its body, address and arrival do not change); its status is re-checked here.
    """
    with transaction.atomic():
        conversation = conversation_lock(message.conversation_id)
        Message.conversation.field.set_cached_value(message, conversation)
        superseded = conversation.mode != Mode.BOT  # an agent took over while the answer was generated
        now = timezone.now()
        with connection.cursor() as cursor:
            if superseded:
                cursor.execute(_SETTLE, [Status.HANDED_OVER, now, message.pk, *_UNSETTLED])
            else:
                cursor.execute(_ANSWER, [Status.ANSWERED, now, now, answer_ms, message.pk, *_UNSETTLED])
            if cursor.rowcount != 1:
                return  # another worker finished it first
        message.status_changed_at = now
        if superseded:
            # The bot stays silent.
            message.status = Status.HANDED_OVER
            exchange_audit(event=AuditEvent.BOT_SUPERSEDED_BY_AGENT, conversation=conversation, message=message)
            return
        message.status, message.answered_at, message.answer_ms = Status.ANSWERED, now, answer_ms
        reply = conversation_reply(
            conversation=conversation,
            body=answer.text,
            author_kind=Message.AuthorKind.BOT,
            reply_to=message,
            reasoning=answer.reasoning,
            answer_ms=answer_ms,
            answer_meta=answer.meta,
            deliver_inline=True,
        )
        # The reasoning stays on the reply row (encrypted); the audit row points at it.
        exchange_audit(
            event=event,
            conversation=conversation,
            message=message,
            response=answer.text,
            meta=answer.meta,
            latency_ms=answer_ms,
            details={**(details or {}), "reply_id": reply.pk, "has_reasoning": bool(answer.reasoning)},
        )
        metrics.inbound_outcome("answered", received_at=message.created_at)


def inbound_hand_over(
    *, message_id: int, details: dict[str, object] | None = None, notice: str = "", notice_kind: str = "media"
) -> None:
    """Leave a customer message to the humans; the bot does not answer it.

    ``notice``: what to tell a customer who is not talking to a person yet, once per
    DESK_MEDIA_NOTICE_WINDOW_MINUTES and ``notice_kind`` (three unreadable photos in a row get one notice).
    """
    with transaction.atomic():
        conversation, message = lock_inbound(message_id)
        if message.status not in (Status.RECEIVED, Status.PROCESSING):
            return
        entered_queue = conversation.mode == Mode.BOT
        if entered_queue:
            conversation.mode = Mode.QUEUED
            conversation.save(update_fields=["mode", "updated_at"])
        if notice and conversation.mode == Mode.QUEUED and not _noticed_recently(conversation.pk, notice_kind):
            conversation_reply(
                conversation=conversation,
                body=notice,
                author_kind=Message.AuthorKind.SYSTEM,
                reply_to=message,
                answer_meta={"notice": notice_kind},
                deliver_inline=True,
            )
        status_set(message, Status.HANDED_OVER)
        if entered_queue:
            conversation_queue_announce(conversation, reason="hand_over", message=message, details=details)
        elif conversation.mode == Mode.QUEUED and not notice:
            # Media and declined answers have their own once-per-window notice (above).
            customer_waiting_announce(conversation, message=message)
        exchange_audit(event=AuditEvent.BOT_HANDED_OVER, conversation=conversation, message=message, details=details)
        metrics.inbound_outcome("handed_over")
        events.conversation_changed(conversation_id=conversation.pk)


def _noticed_recently(conversation_id: int, kind: str) -> bool:
    since = timezone.now() - timedelta(minutes=settings.DESK_MEDIA_NOTICE_WINDOW_MINUTES)
    return Message.objects.filter(
        conversation_id=conversation_id,
        author_kind=Message.AuthorKind.SYSTEM,
        answer_meta__notice=kind,
        created_at__gte=since,
    ).exists()


def inbound_fail(*, message_id: int, reason: str, details: dict[str, object] | None = None) -> None:
    """Give up on the bot for this message: tell the customer politely and queue a human."""
    with transaction.atomic():
        conversation, message = lock_inbound(message_id)
        if message.status not in (Status.RECEIVED, Status.PROCESSING):
            return
        entered_queue = conversation.mode == Mode.BOT
        if entered_queue:
            conversation.mode = Mode.QUEUED
            conversation.save(update_fields=["mode", "updated_at"])
        conversation_reply(
            conversation=conversation,
            body=settings.DESK_FALLBACK_REPLY,
            author_kind=Message.AuthorKind.SYSTEM,
            reply_to=message,
            deliver_inline=True,
        )
        if entered_queue:
            conversation_queue_announce(conversation, reason="fail", message=message, details=details)
        status_set(message, Status.FAILED, error=reason[:500])
        exchange_audit(
            event=AuditEvent.BOT_FALLBACK,
            conversation=conversation,
            message=message,
            response=settings.DESK_FALLBACK_REPLY,
            details={**(details or {}), "reason": reason[:500]},
        )
        metrics.inbound_outcome("failed")
    logger.warning("message %s handed to a human: %s", message_id, reason)
