"""Who serves a conversation: the bot, the queue, or an agent. Writes for the agent console.

Lock order, as in services: customer -> conversation -> message. Console events and the
WeCom 客服 state push happen only after commit.
"""

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.console import events
from apps.console.models import AgentProfile, ConversationEvent
from apps.conversations.models import Channel, Conversation, Customer, Message
from apps.conversations.pipeline import get_moderator
from apps.conversations.services.state import exchange_audit
from apps.core.side_effects import enqueue_on_commit

logger = logging.getLogger(__name__)

Mode = Conversation.Mode
Status = Message.Status
CONSOLE_PERMISSION = "console.use_console"


class HandoffError(Exception):
    """The action does not apply to the conversation as it is now."""


class ConversationTaken(HandoffError):
    def __init__(self, *, holder: str) -> None:
        super().__init__(f"taken over by {holder}")
        self.holder = holder


class ReplyBlocked(HandoffError):
    """Outbound moderation refused the agent's text."""


def asks_for_human(text: str) -> bool:
    squashed = re.sub(r"\s+", "", text).lower()
    return any(phrase.lower() in squashed for phrase in settings.DESK_HUMAN_REQUEST_PHRASES)


def _lock(conversation_id: int) -> Conversation:
    customer_id = Conversation.objects.values_list("customer_id", flat=True).get(pk=conversation_id)
    list(Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True))
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def _username(user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = get_user_model().objects.filter(pk=user_id).first()
    return user.get_username() if user is not None else ""


def _changed(
    conversation: Conversation, *, kind: str, actor: AbstractBaseUser | None, fields: list[str]
) -> Conversation:
    conversation.save(update_fields=[*fields, "updated_at"])
    ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        actor_id=actor.pk if actor is not None else None,
        assignee_id=conversation.assignee_id,
    )
    audit_record(
        kind=AuditLog.Kind.STAFF if actor is not None else AuditLog.Kind.SYSTEM,
        event=f"conversation.{kind}",
        actor_id=actor.pk if actor is not None else None,
        channel=conversation.channel,
        conversation_id=conversation.pk,
        details={"mode": conversation.mode, "assignee_id": conversation.assignee_id},
    )
    events.conversation_changed(conversation_id=conversation.pk)
    _kf_state_push(conversation)
    return conversation


def _kf_state_push(conversation: Conversation) -> None:
    """Mirror the mode to WeCom 客服 so WeChat shows the customer who serves them."""
    if conversation.channel != Channel.WECOM_KF or conversation.mode == Mode.CLOSED:
        return
    servicer = ""
    if conversation.mode == Mode.HUMAN and conversation.assignee_id is not None:
        servicer = (
            AgentProfile.objects.filter(user_id=conversation.assignee_id).values_list("wecom_userid", flat=True).first()
            or ""
        )
    if conversation.mode == Mode.HUMAN and not servicer:
        logger.warning("conversation %s: the agent has no WeCom userid; kf state not pushed", conversation.pk)
        return
    from apps.wechat.tasks import kf_service_state_push

    enqueue_on_commit(kf_service_state_push, conversation.pk, servicer)


def conversation_take_over(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """The agent serves the customer from now on; the bot stays silent. One agent wins a race."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            raise HandoffError("the conversation is closed")
        if conversation.mode == Mode.HUMAN:
            if conversation.assignee_id == agent.pk:
                return conversation
            if conversation.assignee_id is not None:
                raise ConversationTaken(holder=_username(conversation.assignee_id))
        conversation.mode = Mode.HUMAN
        conversation.assignee_id = agent.pk
        return _changed(conversation, kind=ConversationEvent.Kind.TAKEN_OVER, actor=agent, fields=["mode", "assignee"])


def conversation_hand_back(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """The bot answers the customer's next messages again."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.mode not in (Mode.HUMAN, Mode.QUEUED):
            raise HandoffError("the conversation is not with a human")
        conversation.mode = Mode.BOT
        conversation.assignee_id = None
        return _changed(conversation, kind=ConversationEvent.Kind.HANDED_BACK, actor=agent, fields=["mode", "assignee"])


def conversation_assign(*, conversation_id: int, agent: AbstractBaseUser, assignee_id: int) -> Conversation:
    """Give the conversation to another agent (who must be allowed in the console)."""
    assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True, is_staff=True).first()
    if assignee is None or not assignee.has_perm(CONSOLE_PERMISSION):
        raise HandoffError("the assignee is not an agent")
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            raise HandoffError("the conversation is closed")
        conversation.mode = Mode.HUMAN
        conversation.assignee_id = assignee.pk
        return _changed(conversation, kind=ConversationEvent.Kind.ASSIGNED, actor=agent, fields=["mode", "assignee"])


def conversation_close(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """Done: the customer's next message opens a new conversation with the bot."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            return conversation
        conversation.mode = Mode.CLOSED
        conversation.closed_at = timezone.now()
        return _changed(conversation, kind=ConversationEvent.Kind.CLOSED, actor=agent, fields=["mode", "closed_at"])


def conversation_request_human(*, conversation_id: int, message_id: int | None = None) -> Conversation:
    """The customer asked for a person: queue the conversation and tell them so."""
    from apps.conversations.services import conversation_reply

    with transaction.atomic():
        conversation = _lock(conversation_id)
        message = Message.objects.select_for_update().get(pk=message_id) if message_id is not None else None
        if message is not None and message.status not in (Status.RECEIVED, Status.PROCESSING):
            return conversation  # a retry of a message already handled
        if conversation.mode == Mode.BOT:
            conversation.mode = Mode.QUEUED
            _changed(conversation, kind=ConversationEvent.Kind.REQUESTED_HUMAN, actor=None, fields=["mode"])
        conversation_reply(
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
                event="bot.human_requested",
                conversation=conversation,
                message=message,
                response=settings.DESK_HUMAN_REQUEST_REPLY,
            )
    return conversation


def agent_reply(*, conversation_id: int, agent: AbstractBaseUser, body: str) -> Message:
    """Send the agent's text through the bot's outbound path: moderation, then the deliver task."""
    from apps.conversations.services import conversation_reply

    text = body.strip()
    if not text:
        raise HandoffError("the reply is empty")
    verdict = get_moderator().check(text=text, direction="out", message_id=None)
    if verdict.evidence:
        events.flags_changed()
    if verdict.action == "block":
        raise ReplyBlocked("the reply contains blocked content")
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.mode != Mode.HUMAN or conversation.assignee_id != agent.pk:
            raise HandoffError("take the conversation over before replying")
        now = timezone.now()
        inbound = Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        last_inbound = inbound.order_by("-id").first()
        reply = conversation_reply(
            conversation=conversation,
            body=verdict.text,
            author_kind=Message.AuthorKind.AGENT,
            author_id=agent.pk,
            reply_to=last_inbound,
        )
        # What the agent answered is no longer waiting (the console's unread count).
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INBOUND, status=Status.HANDED_OVER
        ).update(status=Status.ANSWERED, answered_at=now, status_changed_at=now)
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event="agent.reply",
            actor_id=agent.pk,
            customer_ref=f"{conversation.channel}:{conversation.customer.external_id}",
            channel=conversation.channel,
            conversation_id=conversation.pk,
            message_id=reply.pk,
            query=last_inbound.body if last_inbound is not None else "",
            response=reply.body,
            details={"verdict": verdict.action},
        )
    return reply
