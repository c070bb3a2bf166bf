"""Writes of the agent console: take over, hand back, assign, close, reply, notes, flag decisions.

Who serves a conversation is recorded by the spine (services.conversation_mode_record), which
also tells the conversation's channel after commit; the console only decides who may do what.
Lock order, as in the spine: customer -> conversation -> message.
"""

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.console.models import Note
from apps.conversations import events
from apps.conversations.channels import ChannelActionError, PermanentDeliveryError, get_adapter
from apps.conversations.media.send import MediaRefused, media_attach, outgoing_media_check
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.conversations.pipeline import Verdict, get_moderator
from apps.conversations.services import (
    conversation_end,
    conversation_lock,
    conversation_mode_record,
    conversation_reply,
)
from apps.moderation import services as moderation
from apps.moderation.models import Flag, Term, TermAction

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


class MediaNotSent(HandoffError):
    """The file cannot go out; ``code`` says why (a key of media.sniff.REJECTIONS, or "channel")."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _username(user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = get_user_model().objects.filter(pk=user_id).first()
    return user.get_username() if user is not None else ""


def conversation_take_over(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """The agent serves the customer from now on; the bot stays silent. One agent wins a race."""
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            raise HandoffError("the conversation is closed")
        if conversation.mode == Mode.HUMAN:
            if conversation.assignee_id == agent.pk:
                return conversation
            if conversation.assignee_id is not None:
                raise ConversationTaken(holder=_username(conversation.assignee_id))
        conversation.mode = Mode.HUMAN
        conversation.assignee_id = agent.pk
        return conversation_mode_record(
            conversation, kind=ConversationEvent.Kind.TAKEN_OVER, actor=agent, fields=["mode", "assignee"]
        )


def conversation_hand_back(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """The bot answers the customer's next messages again."""
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode not in (Mode.HUMAN, Mode.QUEUED):
            raise HandoffError("the conversation is not with a human")
        conversation.mode = Mode.BOT
        conversation.assignee_id = None
        return conversation_mode_record(
            conversation, kind=ConversationEvent.Kind.HANDED_BACK, actor=agent, fields=["mode", "assignee"]
        )


def conversation_assign(*, conversation_id: int, agent: AbstractBaseUser, assignee_id: int) -> Conversation:
    """Give the conversation to another agent (who must be allowed in the console)."""
    assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True, is_staff=True).first()
    if assignee is None or not assignee.has_perm(CONSOLE_PERMISSION):
        raise HandoffError("the assignee is not an agent")
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode == Mode.CLOSED:
            raise HandoffError("the conversation is closed")
        conversation.mode = Mode.HUMAN
        conversation.assignee_id = assignee.pk
        return conversation_mode_record(
            conversation, kind=ConversationEvent.Kind.ASSIGNED, actor=agent, fields=["mode", "assignee"]
        )


def conversation_close(*, conversation_id: int, agent: AbstractBaseUser) -> Conversation:
    """Done: resolved by the agent (abandoned, if the customer was still waiting in the queue). The
    customer's next message opens a new conversation, or reopens this one within DESK_REOPEN_GRACE_S."""
    return conversation_end(conversation_id=conversation_id, reason=Conversation.EndReason.AGENT_RESOLVED, actor=agent)


def agent_reply(*, conversation_id: int, agent: AbstractBaseUser, body: str) -> Message:
    """Send the agent's text through the bot's outbound path: moderation, then the deliver task."""
    text = body.strip()
    if not text:
        raise HandoffError("the reply is empty")
    verdict = _outbound_check(text)
    return _agent_send(
        conversation_id=conversation_id, agent=agent, body=verdict.text, details={"verdict": verdict.action}
    )


def agent_reply_media(*, conversation_id: int, agent: AbstractBaseUser, data: bytes, filename: str) -> Message:
    """Send an image or file the agent attached. An image's text (OCR) passes outbound moderation;
    pixels cannot be masked, so what would be masked in text is refused in a picture."""
    channel = Conversation.objects.values_list("channel", flat=True).filter(pk=conversation_id).first()
    if channel is None:
        raise HandoffError("no such conversation")
    try:
        media = outgoing_media_check(channel=channel, data=data, filename=filename)
    except MediaRefused as exc:
        # A failed check carries its code (too_large, corrupt...); a channel refusal has none.
        raise MediaNotSent(str(exc), code=getattr(exc.__cause__, "code", "channel")) from exc
    details: dict[str, object] = {"media": media.info.kind, "size": len(data)}
    if media.text:
        verdict = _outbound_check(media.text, refuse_mask=True)
        details["verdict"] = verdict.action
    return _agent_send(
        conversation_id=conversation_id,
        agent=agent,
        body=media.body,
        details=details,
        attach=lambda reply: media_attach(message=reply, media=media),
    )


def _outbound_check(text: str, *, refuse_mask: bool = False) -> Verdict:
    verdict = get_moderator().check(text=text, direction="out", message_id=None)
    if verdict.evidence:
        events.flags_changed()
    if verdict.action == "block" or (refuse_mask and verdict.action == "mask"):
        raise ReplyBlocked("the reply contains blocked content")
    return verdict


def _agent_send(
    *,
    conversation_id: int,
    agent: AbstractBaseUser,
    body: str,
    details: dict[str, object],
    attach: Callable[[Message], object] | None = None,
) -> Message:
    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        if conversation.mode != Mode.HUMAN or conversation.assignee_id != agent.pk:
            raise HandoffError("take the conversation over before replying")
        now = timezone.now()
        inbound = Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        last_inbound = inbound.order_by("-id").first()
        reply = conversation_reply(
            conversation=conversation,
            body=body,
            author_kind=Message.AuthorKind.AGENT,
            author_id=agent.pk,
            reply_to=last_inbound,
        )
        if attach is not None:
            attach(reply)  # before commit: the deliver task must find the file
        # What the agent answered is no longer waiting (the console's unread count).
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INBOUND, status=Status.HANDED_OVER
        ).update(status=Status.ANSWERED, answered_at=now, status_changed_at=now)
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=AuditEvent.AGENT_REPLY,
            actor_id=agent.pk,
            customer_ref=f"{conversation.channel}:{conversation.customer.external_id}",
            channel=conversation.channel,
            conversation_id=conversation.pk,
            message_id=reply.pk,
            query=last_inbound.body if last_inbound is not None else "",
            response=reply.body,
            details=details,
        )
    return reply


def channel_act(*, conversation_id: int, agent: AbstractBaseUser, action: str, value: str) -> None:
    """Run one of the conversation's channel actions (e.g. hand a WeCom 客服 session to WeCom)."""
    channel = Conversation.objects.values_list("channel", flat=True).get(pk=conversation_id)
    try:
        get_adapter(channel).act(conversation_id=conversation_id, action=action, value=value, actor_id=agent.pk)
    except (ChannelActionError, PermanentDeliveryError) as exc:
        raise HandoffError(str(exc)) from exc


def note_add(*, conversation_id: int, author: AbstractBaseUser, body: str) -> Note:
    text = body.strip()
    if not text:
        raise HandoffError("the note is empty")
    with transaction.atomic():
        note = Note.objects.create(conversation_id=conversation_id, author_id=author.pk, body=text)
        events.conversation_changed(conversation_id=conversation_id)
    return note


def flag_decide(*, flag_id: int, reviewer: AbstractBaseUser, decision: str) -> Flag:
    """Confirm or dismiss a pending flag; every open review queue reloads."""
    flag = Flag.objects.get(pk=flag_id)
    with transaction.atomic():
        if decision == "confirm":
            flag = moderation.flag_confirm(flag=flag, reviewer=reviewer)
        elif decision == "dismiss":
            flag = moderation.flag_dismiss(flag=flag, reviewer=reviewer)
        else:
            raise ValueError(f"unknown decision {decision!r}")
        events.flags_changed()
    return flag


def flag_term_add(
    *, flag_id: int, reviewer: AbstractBaseUser, text: str, category: str, action: str = TermAction.BLOCK
) -> Term:
    """Blacklist a phrase picked from a flagged text (which confirms the flag)."""
    flag = Flag.objects.get(pk=flag_id)
    with transaction.atomic():
        term = moderation.term_add_from_flag(flag=flag, reviewer=reviewer, text=text, category=category, action=action)
        events.flags_changed()
    return term


def flag_take_over(*, flag_id: int, agent: AbstractBaseUser) -> Conversation:
    """Take over the conversation a flagged message belongs to."""
    flag = Flag.objects.select_related("message").get(pk=flag_id)
    if flag.message is None:
        raise HandoffError("the flag has no conversation")
    return conversation_take_over(conversation_id=flag.message.conversation_id, agent=agent)
