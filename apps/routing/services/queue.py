"""Queue tickets and what a waiting customer hears: their place and wait on entering, a follow-up
while the wait goes on, one acknowledgement for what they write meanwhile; off hours, when the
desk opens (and, with DESK_ROUTING_OFF_HOURS=bot, the bot keeps what it handed over).

Called from the spine's signals inside its transaction (conversation locked), or from tasks that
take the conversation lock first.
"""

from django.conf import settings
from django.db import transaction

from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.conversations.services import conversation_lock, conversation_mode_record, conversation_reply
from apps.core import clock
from apps.core.side_effects import enqueue_on_commit
from apps.customers import selectors as customers
from apps.routing import selectors
from apps.routing.models import QueueTicket
from apps.routing.services.hours import OffHours, off_hours

Mode = Conversation.Mode
# answer_meta["notice"] of the system messages routing sends, so reports and tests tell them apart.
NOTICE_QUEUE = "queue"
NOTICE_FOLLOW_UP = "queue_follow_up"
NOTICE_ACK = "queue_ack"
NOTICE_OFF_HOURS = "off_hours"
# Hand-overs the bot decided itself; off hours with DESK_ROUTING_OFF_HOURS=bot it keeps them. A
# customer who asked for a person, or was with one (requeued), still waits for the next shift.
_BOT_KEEPS = ("hand_over", "fail")
# Kinds routing records itself, with its ticket already written.
_OWN_KINDS = (ConversationEvent.Kind.AUTO_ASSIGNED, ConversationEvent.Kind.REQUEUED)


def _open_ticket(conversation_id: int) -> QueueTicket | None:
    return QueueTicket.objects.filter(conversation_id=conversation_id, ended_at__isnull=True).first()


def ticket_open(
    *, conversation: Conversation, reason: str, message: Message | None = None, details: dict[str, object] | None = None
) -> QueueTicket:
    """The waiting ticket of a locked, queued conversation: the open one, or a new one with its team."""
    ticket = _open_ticket(conversation.pk)
    if ticket is not None and ticket.assigned_at is None:
        return ticket
    now = clock.now()
    if ticket is not None:  # the agent stint before this one, not closed yet
        QueueTicket.objects.filter(pk=ticket.pk).update(ended_at=now)
    team_id = selectors.rule_team(
        channel=conversation.channel,
        text=message.body if message is not None else "",
        categories=selectors.moderation_categories(details or {}),
        label_ids=customers.customer_label_ids(customer_id=conversation.customer_id),
    )
    return QueueTicket.objects.create(conversation=conversation, team_id=team_id, reason=reason[:32], queued_at=now)


def _assign_soon(ticket_id: int) -> None:
    from apps.routing import tasks

    enqueue_on_commit(tasks.assign_ticket, ticket_id)


def _tell(
    *, conversation: Conversation, ticket: QueueTicket, template: str, notice: str, reply_to: Message | None
) -> Message:
    place = selectors.position(ticket=ticket)
    minutes = selectors.wait_minutes(team_id=ticket.team_id, place=place)
    return conversation_reply(
        conversation=conversation,
        body=template.format(position=place, minutes=minutes),
        author_kind=Message.AuthorKind.SYSTEM,
        reply_to=reply_to,
        answer_meta={"notice": notice, "position": place, "minutes": minutes},
    )


def _will_wait(ticket: QueueTicket) -> bool:
    """Someone is on shift for the team but no seat is free for this customer now.

    Nobody online: a place and an estimate would be fiction; the spine's own notice stands and the
    follow-up comes. A seat free: the assigner connects them within seconds."""
    room = selectors.seats(team_id=ticket.team_id)
    return room.online > 0 and room.free < selectors.position(ticket=ticket)


def queue_enter(
    *,
    conversation: Conversation,
    reason: str,
    message: Message | None = None,
    details: dict[str, object] | None = None,
) -> Message | None:
    """The locked conversation entered the queue: open its ticket, have the assigner try it after
    commit, and tell a customer who will wait where they stand (the message, or None). Off hours,
    tell them when the desk opens instead."""
    closed = off_hours(channel=conversation.channel, at=clock.now())
    if closed is not None:
        return _enter_off_hours(
            conversation=conversation, reason=reason, message=message, details=details, closed=closed
        )
    ticket = ticket_open(conversation=conversation, reason=reason, message=message, details=details)
    _assign_soon(ticket.pk)
    if ticket.position_sent_at is not None or not _will_wait(ticket):
        return None
    told = _tell(
        conversation=conversation,
        ticket=ticket,
        template=settings.DESK_ROUTING_QUEUE_TEXT,
        notice=NOTICE_QUEUE,
        reply_to=message,
    )
    QueueTicket.objects.filter(pk=ticket.pk).update(position_sent_at=clock.now())
    return told


def _enter_off_hours(
    *,
    conversation: Conversation,
    reason: str,
    message: Message | None,
    details: dict[str, object] | None,
    closed: OffHours,
) -> Message | None:
    if settings.DESK_ROUTING_OFF_HOURS == "bot" and reason in _BOT_KEEPS:
        conversation.mode = Mode.BOT
        conversation_mode_record(conversation, kind=ConversationEvent.Kind.OFF_HOURS, actor=None, fields=["mode"])
    else:
        # Waits for the next shift: the assigner and the follow-ups leave it alone until then.
        ticket = ticket_open(conversation=conversation, reason=reason, message=message, details=details)
        QueueTicket.objects.filter(pk=ticket.pk).update(not_before=closed.next_open)
    # Once per closed period; a customer asking for a person hears it each time they ask.
    period = closed.next_open.isoformat() if closed.next_open is not None else ""
    told = Message.objects.filter(
        conversation=conversation, answer_meta__notice=NOTICE_OFF_HOURS, answer_meta__next_open=period
    ).exists()
    if told and reason != "requested_human":
        return None
    return conversation_reply(
        conversation=conversation,
        body=closed.text,
        author_kind=Message.AuthorKind.SYSTEM,
        reply_to=message,
        answer_meta={"notice": NOTICE_OFF_HOURS, "next_open": period},
    )


def queue_tell_position(*, ticket_id: int) -> bool:
    """The assigner found no seat for a customer who was not told their place on entering: tell them."""
    conversation_id = QueueTicket.objects.filter(pk=ticket_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        return False
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        ticket = QueueTicket.objects.select_for_update().get(pk=ticket_id)
        waiting = ticket.assigned_at is None and ticket.ended_at is None and conversation.mode == Mode.QUEUED
        if not waiting or ticket.position_sent_at is not None or not _will_wait(ticket):
            return False
        _tell(
            conversation=conversation,
            ticket=ticket,
            template=settings.DESK_ROUTING_QUEUE_TEXT,
            notice=NOTICE_QUEUE,
            reply_to=None,
        )
        ticket.position_sent_at = clock.now()
        ticket.save(update_fields=["position_sent_at"])
    return True


def queue_ack(*, conversation: Conversation, message: Message) -> Message | None:
    """A customer wrote while waiting (the locked conversation is queued): acknowledge it, once a stint."""
    ticket = _open_ticket(conversation.pk)
    if ticket is None or ticket.assigned_at is not None:  # queued before routing was installed
        ticket = ticket_open(conversation=conversation, reason="waiting", message=message)
        _assign_soon(ticket.pk)
    if ticket.acked_at is not None:
        return None
    QueueTicket.objects.filter(pk=ticket.pk).update(acked_at=clock.now())
    return conversation_reply(
        conversation=conversation,
        body=settings.DESK_ROUTING_ACK_TEXT,
        author_kind=Message.AuthorKind.SYSTEM,
        reply_to=message,
        answer_meta={"notice": NOTICE_ACK},
    )


def ticket_follow(*, conversation: Conversation, kind: str) -> None:
    """Keep the ticket in step with a change recorded by someone else (an agent, a channel), in the
    spine's transaction; then let the assigner offer any seat that freed up."""
    if kind in _OWN_KINDS:
        return
    ticket = _open_ticket(conversation.pk)
    now = clock.now()
    if conversation.mode == Mode.HUMAN and conversation.assignee_id is not None:
        if ticket is None:  # taken over straight from the bot: a stint with no wait, for the handle times
            QueueTicket.objects.create(
                conversation=conversation,
                reason=kind[:32],
                queued_at=now,
                assigned_at=now,
                assignee_id=conversation.assignee_id,
            )
        elif ticket.assigned_at is None:  # picked by hand from the queue
            ticket.assigned_at, ticket.assignee_id = now, conversation.assignee_id
            ticket.save(update_fields=["assigned_at", "assignee"])
    elif conversation.mode in (Mode.BOT, Mode.CLOSED) and ticket is not None:
        ticket.ended_at = now
        ticket.save(update_fields=["ended_at"])
    if conversation.mode != Mode.QUEUED:
        from apps.routing import tasks

        enqueue_on_commit(tasks.drain_queue)


def follow_ups_send() -> int:
    """Tell every customer waiting past DESK_ROUTING_FOLLOW_UP_S (since entering or the last
    follow-up) where they stand now. Safe to run concurrently: each ticket is re-checked under lock."""
    sent = 0
    due = list(selectors.follow_ups_due(now=clock.now()).values_list("pk", "conversation_id")[:500])
    for ticket_id, conversation_id in due:
        with transaction.atomic():
            conversation = conversation_lock(conversation_id)
            still_due = selectors.follow_ups_due(now=clock.now()).select_for_update(of=("self",)).filter(pk=ticket_id)
            ticket = still_due.first()
            if ticket is None or conversation.mode != Mode.QUEUED:
                continue
            _tell(
                conversation=conversation,
                ticket=ticket,
                template=settings.DESK_ROUTING_FOLLOW_UP_TEXT,
                notice=NOTICE_FOLLOW_UP,
                reply_to=None,
            )
            ticket.follow_ups += 1
            ticket.follow_up_sent_at = clock.now()
            ticket.save(update_fields=["follow_ups", "follow_up_sent_at"])
            sent += 1
    return sent
