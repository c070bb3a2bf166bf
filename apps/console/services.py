"""Writes of the console that are not about who serves a conversation (apps.conversations.handoff)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.console import events
from apps.console.models import Note
from apps.conversations import handoff
from apps.conversations.models import Conversation
from apps.moderation import services as moderation
from apps.moderation.models import Flag, Term, TermAction


def note_add(*, conversation_id: int, author: AbstractBaseUser, body: str) -> Note:
    text = body.strip()
    if not text:
        raise handoff.HandoffError("the note is empty")
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
        raise handoff.HandoffError("the flag has no conversation")
    return handoff.conversation_take_over(conversation_id=flag.message.conversation_id, agent=agent)
