"""Satisfaction (CSAT): after a resolved conversation closes, the customer is asked for 1-5.

Asked at the close (``satisfaction_request``, inside conversation_end's transaction): through the
channel as a system message (DESK_CSAT_ASK_TEXT), or by the channel itself when its adapter says
``asks_rating_itself`` (WeCom 客服's menu), which reports back with ``satisfaction_asked``.

Answered by the customer's next message within DESK_CSAT_WINDOW_S, if it reads as a score ("5",
"５", "五", "5分 很好", "非常满意") or is a click on a rating menu item (``csat-<n>``): receive
stores it in the rated, closed conversation, and it is neither a question for the bot nor a
reason to reopen the conversation or start a new one. Anything else is an ordinary message.

Lock order: customer -> conversation -> satisfaction -> message.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.conversations.channels import PermanentDeliveryError, adapter_class
from apps.conversations.models import Conversation, Customer, Message, Satisfaction
from apps.conversations.services.outbound import conversation_reply
from apps.conversations.services.state import Mode, Status, exchange_audit, status_set
from apps.core import clock

MENU_KEY_PREFIX = "csat-"
NOTICE_ASK = "csat_ask"
NOTICE_THANKS = "csat_thanks"
EndReason = Conversation.EndReason

# Whole-message answers in words; checked before the digits (an exact match, so "一般般的问题" is not one).
_WORDS = {"非常满意": 5, "很满意": 5, "满意": 4, "一般": 3, "不满意": 2, "不太满意": 2, "非常不满意": 1, "很不满意": 1}
_DIGITS = {
    **{str(n): n for n in range(1, 6)},
    **{chr(0xFF10 + n): n for n in range(1, 6)},  # full-width ５, as Chinese keyboards type it
    **{char: n for n, char in enumerate("一二三四五", start=1)},
}
# A score leads the message, alone or followed by 分/星 or a break: "5", "5分 很好", "4，还行". Not
# "3个问题" or "12": those are questions.
_LEADING = re.compile(r"^([1-5１-５一二三四五])\s*(?:分|星)?(?=$|[\s,.;:!?，。；：！？、~～\-—])")
_TRIM = " \t\r\n,.;:!?，。；：！？、~～-—"


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str = ""


def rating_menu_key(score: int) -> str:
    """The id of a rating menu item a channel offers (a click on it comes back as this key)."""
    return f"{MENU_KEY_PREFIX}{score}"


def rating_parse(*, text: str, menu_key: str = "") -> Rating | None:
    """The score (and the words after it) a customer's message gives, or None if it is no rating."""
    if menu_key:
        if not menu_key.startswith(MENU_KEY_PREFIX):
            return None
        score = _DIGITS.get(menu_key.removeprefix(MENU_KEY_PREFIX))
        return Rating(score=score) if score is not None else None
    stripped = text.strip().strip(_TRIM)
    if stripped in _WORDS:
        return Rating(score=_WORDS[stripped])
    match = _LEADING.match(stripped)
    if match is None:
        return None
    return Rating(score=_DIGITS[match.group(1)], comment=stripped[match.end() :].strip(_TRIM))


def _wanted(end_reason: str) -> bool:
    if not settings.DESK_CSAT_ENABLED:
        return False
    if end_reason == EndReason.AGENT_RESOLVED:
        return True
    return end_reason == EndReason.BOT_RESOLVED and settings.DESK_CSAT_AFTER == "all"


def satisfaction_request(conversation: Conversation) -> Satisfaction | None:
    """The locked conversation has just closed: ask for a rating if it ended resolved.

    Abandoned, idle-without-answer and customer-ended conversations are not asked. A conversation
    reopened and closed again is asked again unless it was already rated.
    """
    if not _wanted(conversation.end_reason):
        return None
    try:
        by_channel = adapter_class(conversation.channel).asks_rating_itself
    except PermanentDeliveryError:  # no adapter configured: the question fails like any reply would
        by_channel = False
    now = clock.now()
    satisfaction, created = Satisfaction.objects.select_for_update().get_or_create(
        conversation=conversation,
        defaults={"channel": conversation.channel, "via": Satisfaction.Via.MESSAGE},
    )
    if not created and satisfaction.score is not None:
        return satisfaction
    satisfaction.agent_id = conversation.assignee_id
    satisfaction.via = Satisfaction.Via.MENU if by_channel else Satisfaction.Via.MESSAGE
    # The channel's own ask happens after commit, in its hook; it sets asked_at when it got through.
    satisfaction.asked_at = None if by_channel else now
    satisfaction.not_asked = ""
    satisfaction.save(update_fields=["agent", "via", "asked_at", "not_asked"])
    if not by_channel:
        conversation_reply(
            conversation=conversation,
            body=settings.DESK_CSAT_ASK_TEXT,
            author_kind=Message.AuthorKind.SYSTEM,
            answer_meta={"notice": NOTICE_ASK},
        )
    return satisfaction


def satisfaction_pending(*, conversation_id: int) -> bool:
    """Whether the channel should ask for a rating of this closed conversation (its own way)."""
    return Satisfaction.objects.filter(
        conversation_id=conversation_id, via=Satisfaction.Via.MENU, asked_at__isnull=True, score__isnull=True
    ).exists()


def satisfaction_asked(*, conversation_id: int, asked: bool, reason: str = "") -> None:
    """A channel that asks itself reports whether the customer got the question (``reason``: why not)."""
    rows = Satisfaction.objects.filter(conversation_id=conversation_id, asked_at__isnull=True, score__isnull=True)
    if asked:
        rows.update(asked_at=clock.now(), not_asked="")
    else:
        rows.update(not_asked=reason[:100])


def satisfaction_awaiting(*, customer: Customer, rating: Rating | None) -> Satisfaction | None:
    """The rating the customer's message answers, locked, if it is one: they have no open
    conversation, their latest one was asked within DESK_CSAT_WINDOW_S and is not rated yet.

    Call inside a transaction; it takes the customer's lock first (as opening a conversation does)."""
    if rating is None or not settings.DESK_CSAT_ENABLED:
        return None
    list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True))
    if Conversation.objects.filter(customer=customer).exclude(mode=Mode.CLOSED).exists():
        return None
    latest = (
        Conversation.objects.select_for_update()
        .filter(customer=customer, mode=Mode.CLOSED)
        .order_by("-closed_at", "-pk")
        .first()
    )
    if latest is None:
        return None
    since = clock.now() - timedelta(seconds=settings.DESK_CSAT_WINDOW_S)
    return (
        Satisfaction.objects.select_for_update(of=("self",))
        .filter(conversation=latest, score__isnull=True, asked_at__gte=since)
        .select_related("conversation__customer")
        .first()
    )


def satisfaction_answer(*, satisfaction: Satisfaction, message: Message, rating: Rating) -> None:
    """Record the customer's rating (``message``: their answer, just stored) and thank them once."""
    now = clock.now()
    satisfaction.score, satisfaction.comment = rating.score, rating.comment
    satisfaction.answered_at, satisfaction.answer = now, message
    satisfaction.save(update_fields=["score", "comment", "answered_at", "answer"])
    conversation = satisfaction.conversation
    meta: dict[str, object] = {"notice": NOTICE_THANKS, "score": rating.score}
    thanks = conversation_reply(
        conversation=conversation,
        body=settings.DESK_CSAT_THANKS_TEXT,
        author_kind=Message.AuthorKind.SYSTEM,
        reply_to=message,
        answer_meta=meta,
    )
    status_set(message, Status.ANSWERED, answered_at=timezone.now(), answer_ms=0)
    exchange_audit(
        event=AuditEvent.INBOUND_SATISFACTION,
        conversation=conversation,
        message=message,
        response=thanks.body,
        details={"score": rating.score, "agent_id": satisfaction.agent_id},
    )
