"""Lifecycle: conversations nobody writes in close by themselves, and say how they ended.

With the bot after DESK_IDLE_CLOSE_BOT_S, with an agent after DESK_IDLE_CLOSE_HUMAN_S (the customer
told DESK_IDLE_CLOSE_*_TEXT first). A queued conversation is not closed for idling: the customer
is waiting for us, not the other way round. It ends abandoned only when the customer has been
silent for DESK_QUEUE_ABANDON_S in line (follow-ups went unanswered) while the desk was open: they
have gone, and a ticket left waiting would make an agent greet nobody hours later. A night does not
count: only once the desk has been open that long again. Closing goes
through the spine (conversation_end);
a customer who writes again within DESK_REOPEN_GRACE_S gets the same conversation back there.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_end, conversation_lock, conversation_reply
from apps.core import clock
from apps.routing import selectors
from apps.routing.services.hours import schedule_for

Mode = Conversation.Mode
EndReason = Conversation.EndReason
NOTICE_IDLE_CLOSE = "idle_close"
NOTICE_ABANDONED = "queue_abandoned"


def _idle_for(mode: str) -> float:
    return float(settings.DESK_IDLE_CLOSE_BOT_S if mode == Mode.BOT else settings.DESK_IDLE_CLOSE_HUMAN_S)


def _closing_text(mode: str) -> str:
    return str(settings.DESK_IDLE_CLOSE_BOT_TEXT if mode == Mode.BOT else settings.DESK_IDLE_CLOSE_HUMAN_TEXT)


def _end_reason(conversation: Conversation) -> str:
    """Whoever answered resolved it; a conversation nobody answered merely went quiet."""
    author = Message.AuthorKind.BOT if conversation.mode == Mode.BOT else Message.AuthorKind.AGENT
    answered = Message.objects.filter(conversation=conversation, author_kind=author).exists()
    if not answered:
        return EndReason.IDLE
    return EndReason.BOT_RESOLVED if conversation.mode == Mode.BOT else EndReason.AGENT_RESOLVED


def conversation_close_idle(*, conversation_id: int, now: datetime | None = None) -> bool:
    """Close one conversation if it is still idle, under its lock (a message may have just come)."""
    now = now or clock.now()
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode not in (Mode.BOT, Mode.HUMAN) or _idle_for(conversation.mode) <= 0:
            return False
        cutoff = now - timedelta(seconds=_idle_for(conversation.mode))
        if not selectors.idle(mode=conversation.mode, before=cutoff).filter(pk=conversation.pk).exists():
            return False
        text = _closing_text(conversation.mode)
        if text:
            conversation_reply(
                conversation=conversation,
                body=text,
                author_kind=Message.AuthorKind.SYSTEM,
                answer_meta={"notice": NOTICE_IDLE_CLOSE},
            )
        # The spine locks again (re-entrant within this transaction) and records the close.
        conversation_end(conversation_id=conversation.pk, reason=_end_reason(conversation), actor=None)
    return True


def conversation_close_abandoned(*, conversation_id: int, now: datetime | None = None) -> bool:
    """End one queued conversation whose customer has stopped waiting, if still so under its lock."""
    now = now or clock.now()
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode != Mode.QUEUED or settings.DESK_QUEUE_ABANDON_S <= 0:
            return False
        before = now - timedelta(seconds=settings.DESK_QUEUE_ABANDON_S)
        if not selectors.abandoned(before=before).filter(pk=conversation.pk).exists():
            return False
        schedule = schedule_for(channel=conversation.channel, at=now)
        if schedule is not None:
            opened = schedule.opened_at(now)
            # Closed, or open for less than the abandon time: the night's silence is not leaving.
            if opened is None or opened > before:
                return False
        if settings.DESK_QUEUE_ABANDON_TEXT:
            conversation_reply(
                conversation=conversation,
                body=settings.DESK_QUEUE_ABANDON_TEXT,
                author_kind=Message.AuthorKind.SYSTEM,
                answer_meta={"notice": NOTICE_ABANDONED},
            )
        # The spine records a queued conversation's end as abandoned, whatever reason is given.
        conversation_end(conversation_id=conversation.pk, reason=EndReason.ABANDONED, actor=None)
    return True


def conversations_close_idle(*, limit: int = 500) -> int:
    """Close every idle bot and human conversation (each in its own transaction); how many closed."""
    now = clock.now()
    closed = 0
    for mode in (Mode.BOT, Mode.HUMAN):
        if _idle_for(mode) <= 0:
            continue
        cutoff = now - timedelta(seconds=_idle_for(mode))
        for conversation_id in list(selectors.idle(mode=mode, before=cutoff).values_list("pk", flat=True)[:limit]):
            closed += conversation_close_idle(conversation_id=conversation_id, now=now)
    if settings.DESK_QUEUE_ABANDON_S > 0:
        before = now - timedelta(seconds=settings.DESK_QUEUE_ABANDON_S)
        for conversation_id in list(selectors.abandoned(before=before).values_list("pk", flat=True)[:limit]):
            closed += conversation_close_abandoned(conversation_id=conversation_id, now=now)
    return closed
