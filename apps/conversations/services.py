"""Writes of the message spine: receive, process, reply, deliver, fail, sweep.

Lock order, everywhere: customer -> conversation -> message. Side effects (tasks,
websocket events) are published only after commit through apps.core.side_effects.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.console import events as console_events
from apps.conversations import selectors
from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.pipeline import Answer, get_answerer, get_moderator
from apps.core import metrics
from apps.core.side_effects import enqueue_on_commit
from apps.wechat.adapters import OutboundText, PermanentDeliveryError, get_adapter

logger = logging.getLogger(__name__)

Status = Message.Status
Mode = Conversation.Mode


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool


def message_receive(
    *, channel: str, external_user_id: str, display_name: str, channel_message_id: str | None, body: str
) -> Received:
    """Store a customer message once and schedule its processing.

    Idempotent on (channel, channel_message_id): a redelivery returns the stored message
    and schedules nothing.
    """
    if channel_message_id:
        existing = Message.objects.filter(channel=channel, channel_message_id=channel_message_id).first()
        if existing is not None:
            return Received(message=existing, created=False)
    try:
        with transaction.atomic():
            customer = _customer_upsert(channel=channel, external_id=external_user_id, display_name=display_name)
            conversation = _conversation_open(customer=customer)
            now = timezone.now()
            message = Message.objects.create(
                conversation=conversation,
                channel=channel,
                direction=Message.Direction.INBOUND,
                author_kind=Message.AuthorKind.CUSTOMER,
                body=body,
                channel_message_id=channel_message_id,
                status=Status.RECEIVED,
            )
            conversation.last_message_at = now
            conversation.save(update_fields=["last_message_at", "updated_at"])
            _enqueue_processing(message.pk)
            console_events.conversation_changed(conversation_id=conversation.pk, message_id=message.pk)
    except IntegrityError:
        # A concurrent delivery of the same channel message won the insert.
        if not channel_message_id:
            raise
        existing = Message.objects.get(channel=channel, channel_message_id=channel_message_id)
        return Received(message=existing, created=False)
    return Received(message=message, created=True)


def _customer_upsert(*, channel: str, external_id: str, display_name: str) -> Customer:
    customer, created = Customer.objects.get_or_create(
        channel=channel, external_id=external_id, defaults={"display_name": display_name}
    )
    if not created and display_name and customer.display_name != display_name:
        customer.display_name = display_name
        customer.save(update_fields=["display_name", "updated_at"])
    return customer


def _conversation_open(*, customer: Customer) -> Conversation:
    """The customer's open conversation (locked), or a new one."""
    open_ = Conversation.objects.select_for_update().filter(customer=customer).exclude(mode=Mode.CLOSED).first()
    if open_ is not None:
        return open_
    try:
        with transaction.atomic():
            return Conversation.objects.create(customer=customer, channel=customer.channel)
    except IntegrityError:
        # Two first messages of a new customer raced; join the one that won.
        return Conversation.objects.select_for_update().filter(customer=customer).exclude(mode=Mode.CLOSED).get()


def _enqueue_processing(message_id: int) -> None:
    from apps.conversations.tasks import process_inbound

    enqueue_on_commit(process_inbound, message_id)


def _enqueue_delivery(message_id: int) -> None:
    from apps.conversations.tasks import deliver

    enqueue_on_commit(deliver, message_id)


def inbound_claim(*, message_id: int) -> bool:
    """Take a received message for processing. False when another worker has it or it is done."""
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, direction=Message.Direction.INBOUND, status=Status.RECEIVED).update(
        status=Status.PROCESSING, status_changed_at=now, processing_started_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def inbound_release(*, message_id: int, error: str) -> None:
    """Give a claimed message back so a retry can claim it again."""
    Message.objects.filter(pk=message_id, status=Status.PROCESSING).update(
        status=Status.RECEIVED, status_changed_at=timezone.now(), error=error[:500]
    )


def inbound_process(*, message_id: int) -> None:
    """Moderate, answer and reply to one customer message. Safe to run any number of times."""
    if not inbound_claim(message_id=message_id):
        return
    message = Message.objects.select_related("conversation").get(pk=message_id)
    conversation = message.conversation
    moderator = get_moderator()

    from apps.conversations import attachments

    text = attachments.message_text(message=message)  # an image's OCR text; None when unreadable
    if text is None:
        _reply_commit(message_id=message_id, answer=attachments.unreadable_answer(), answer_ms=0)
        return
    verdict_in = moderator.check(text=text, direction="in", message_id=message.pk)
    if verdict_in.evidence:
        console_events.flags_changed()
    if verdict_in.action == "block":
        _reply_commit(message_id=message_id, answer=Answer(text=settings.DESK_MODERATION_BLOCKED_REPLY), answer_ms=0)
        return
    if verdict_in.action == "review" or conversation.mode != Mode.BOT:
        inbound_hand_over(message_id=message_id)
        return
    from apps.conversations import handoff

    if handoff.asks_for_human(message.body):
        handoff.conversation_request_human(conversation_id=conversation.pk, message_id=message_id)
        return

    context = selectors.conversation_context(
        conversation=conversation, before_id=message.pk, turns=settings.DESK_CONTEXT_TURNS
    )
    started = time.monotonic()
    answer = get_answerer().answer(conversation_id=conversation.pk, question=verdict_in.text, context=context)
    answer_ms = int((time.monotonic() - started) * 1000)
    metrics.stage_observe("answer", answer_ms / 1000)

    verdict_out = moderator.check(text=answer.text, direction="out", message_id=message.pk)
    if verdict_out.evidence:
        console_events.flags_changed()
    if verdict_out.action in ("block", "review"):
        # A withheld answer must never reach the customer; a human takes it from here.
        inbound_fail(message_id=message_id, reason=f"answer withheld by moderation ({verdict_out.action})")
        return
    if not verdict_out.text.strip():
        inbound_fail(message_id=message_id, reason="empty answer")
        return
    answer = Answer(text=verdict_out.text, reasoning=answer.reasoning, meta=answer.meta)
    _reply_commit(message_id=message_id, answer=answer, answer_ms=answer_ms)


def _lock_inbound(message_id: int) -> tuple[Conversation, Message]:
    conversation_id = Message.objects.values_list("conversation_id", flat=True).get(pk=message_id)
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    message = Message.objects.select_for_update().get(pk=message_id)
    return conversation, message


def _reply_commit(*, message_id: int, answer: Answer, answer_ms: int) -> None:
    with transaction.atomic():
        conversation, message = _lock_inbound(message_id)
        if message.status not in (Status.RECEIVED, Status.PROCESSING):
            return  # another worker finished it first
        if conversation.mode != Mode.BOT:
            # An agent took over while the answer was being generated: the bot stays silent.
            _mark(message, Status.HANDED_OVER)
            return
        conversation_reply(
            conversation=conversation,
            body=answer.text,
            author_kind=Message.AuthorKind.BOT,
            reply_to=message,
            reasoning=answer.reasoning,
            answer_ms=answer_ms,
            answer_meta=answer.meta,
        )
        _mark(message, Status.ANSWERED, answered_at=timezone.now(), answer_ms=answer_ms)
        metrics.inbound_outcome("answered", received_at=message.created_at)


def _mark(message: Message, status: str, **fields: object) -> None:
    message.status = status
    message.status_changed_at = timezone.now()
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=["status", "status_changed_at", *fields.keys()])


def inbound_hand_over(*, message_id: int) -> None:
    """Leave a customer message to the humans; the bot does not answer it."""
    with transaction.atomic():
        conversation, message = _lock_inbound(message_id)
        if message.status not in (Status.RECEIVED, Status.PROCESSING):
            return
        if conversation.mode == Mode.BOT:
            conversation.mode = Mode.QUEUED
            conversation.save(update_fields=["mode", "updated_at"])
        _mark(message, Status.HANDED_OVER)
        metrics.inbound_outcome("handed_over")
        console_events.conversation_changed(conversation_id=conversation.pk)


def inbound_fail(*, message_id: int, reason: str) -> None:
    """Give up on the bot for this message: tell the customer politely and queue a human."""
    with transaction.atomic():
        conversation, message = _lock_inbound(message_id)
        if message.status not in (Status.RECEIVED, Status.PROCESSING):
            return
        if conversation.mode == Mode.BOT:
            conversation.mode = Mode.QUEUED
            conversation.save(update_fields=["mode", "updated_at"])
        conversation_reply(
            conversation=conversation,
            body=settings.DESK_FALLBACK_REPLY,
            author_kind=Message.AuthorKind.SYSTEM,
            reply_to=message,
        )
        _mark(message, Status.FAILED, error=reason[:500])
        metrics.inbound_outcome("failed")
    logger.warning("message %s handed to a human: %s", message_id, reason)


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
) -> Message:
    """Queue an outbound message for delivery through the conversation's channel."""
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
        answer_ms=answer_ms,
        answer_meta=answer_meta or {},
    )
    _enqueue_delivery(reply.pk)
    console_events.conversation_changed(conversation_id=conversation.pk, message_id=reply.pk)
    return reply


def message_deliver(*, message_id: int) -> None:
    """Hand an outbound message to its channel once. Transient errors propagate for a retry."""
    Message.objects.filter(pk=message_id, status=Status.PROCESSING).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        # The row lock is held across the send so a duplicate task waits, then sees "delivered".
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation__customer")
            .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
            .first()
        )
        if message is None or message.status != Status.PROCESSING:
            return
        outbound = OutboundText(
            message_id=message.pk,
            conversation_id=message.conversation_id,
            channel=message.channel,
            customer_external_id=message.conversation.customer.external_id,
            text=message.body,
        )
        try:
            get_adapter(message.channel).send(outbound)
        except PermanentDeliveryError as exc:
            _mark(message, Status.FAILED, error=str(exc)[:500])
            metrics.delivery_failed(channel=message.channel, reason="permanent")
            return
        _mark(message, Status.DELIVERED, delivered_at=timezone.now())
        metrics.stage_observe("deliver", (timezone.now() - message.created_at).total_seconds())


@dataclass(frozen=True)
class SweepReport:
    requeued_inbound: int
    requeued_outbound: int
    given_up: int


def messages_sweep(*, now: datetime | None = None) -> SweepReport:
    """Re-enqueue work a crash left behind: unclaimed, orphaned or undelivered messages."""
    now = now or timezone.now()
    received_cutoff = now - timedelta(seconds=settings.DESK_RECEIVED_GRACE_SECONDS)
    lease_cutoff = now - timedelta(seconds=settings.DESK_PROCESSING_LEASE_SECONDS)
    batch = settings.DESK_SWEEP_BATCH
    stuck = Message.objects.filter(
        Q(direction=Message.Direction.INBOUND, status=Status.RECEIVED, status_changed_at__lt=received_cutoff)
        | Q(direction=Message.Direction.INBOUND, status=Status.PROCESSING, status_changed_at__lt=lease_cutoff)
        | Q(direction=Message.Direction.OUTBOUND, status=Status.PROCESSING, status_changed_at__lt=received_cutoff)
    ).values_list("pk", "direction", "status", "attempts", "status_changed_at")[:batch]

    inbound = outbound = given_up = 0
    for pk, direction, status, attempts, changed_at in stuck:
        if attempts >= settings.DESK_MAX_ATTEMPTS:
            given_up += _give_up(pk, direction, f"gave up after {attempts} attempts")
        elif direction == Message.Direction.OUTBOUND:
            with transaction.atomic():
                Message.objects.filter(pk=pk, status=Status.PROCESSING).update(status_changed_at=now)
                _enqueue_delivery(pk)
            outbound += 1
        else:
            # Reset the orphaned claim only if nobody touched it since we looked.
            with transaction.atomic():
                reset = Message.objects.filter(pk=pk, status=status, status_changed_at=changed_at).update(
                    status=Status.RECEIVED, status_changed_at=now
                )
                if reset:
                    _enqueue_processing(pk)
            inbound += reset
    if inbound or outbound or given_up:
        logger.warning("sweeper: requeued %d inbound, %d outbound, gave up on %d", inbound, outbound, given_up)
    return SweepReport(requeued_inbound=inbound, requeued_outbound=outbound, given_up=given_up)


def _give_up(pk: int, direction: str, reason: str) -> int:
    if direction == Message.Direction.INBOUND:
        inbound_fail(message_id=pk, reason=reason)
    else:
        Message.objects.filter(pk=pk, status=Status.PROCESSING).update(
            status=Status.FAILED, status_changed_at=timezone.now(), error=reason
        )
    return 1


def staff_message_record(
    *, channel: str, external_user_id: str, display_name: str, channel_message_id: str, body: str
) -> Received:
    """A message the staff sent from the account's own phone: WeChat has delivered it already.

    It is stored as an agent message, and the conversation goes to a human: the staff member
    is talking, so the bot stays silent until someone hands it back. Idempotent on
    (channel, channel_message_id).
    """
    existing = Message.objects.filter(channel=channel, channel_message_id=channel_message_id).first()
    if existing is not None:
        return Received(message=existing, created=False)
    try:
        with transaction.atomic():
            customer = _customer_upsert(channel=channel, external_id=external_user_id, display_name=display_name)
            conversation = _conversation_open(customer=customer)
            now = timezone.now()
            message = Message.objects.create(
                conversation=conversation,
                channel=channel,
                direction=Message.Direction.OUTBOUND,
                author_kind=Message.AuthorKind.AGENT,
                body=body,
                channel_message_id=channel_message_id,
                status=Status.DELIVERED,
                delivered_at=now,
            )
            conversation.mode = Mode.HUMAN
            conversation.last_message_at = now
            conversation.save(update_fields=["mode", "last_message_at", "updated_at"])
            console_events.conversation_changed(conversation_id=conversation.pk, message_id=message.pk)
    except IntegrityError:
        existing = Message.objects.get(channel=channel, channel_message_id=channel_message_id)
        return Received(message=existing, created=False)
    logger.info("conversation %s taken over from the phone", conversation.pk)
    return Received(message=message, created=True)
