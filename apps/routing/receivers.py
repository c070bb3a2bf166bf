"""Routing's answers to the spine's signals (apps/conversations/signals.py), inside its transaction."""

from typing import Any

from django.dispatch import receiver

from apps.conversations import signals
from apps.conversations.models import Conversation, Message
from apps.routing import services


@receiver(signals.conversation_queued, dispatch_uid="routing.queue_enter")
def _queued(
    sender: Any,
    *,
    conversation: Conversation,
    reason: str,
    message: Message | None,
    details: dict[str, object],
    **kwargs: Any,
) -> Message | None:
    return services.queue_enter(conversation=conversation, reason=reason, message=message, details=details)


@receiver(signals.customer_waiting, dispatch_uid="routing.queue_ack")
def _waiting(sender: Any, *, conversation: Conversation, message: Message, **kwargs: Any) -> None:
    services.queue_ack(conversation=conversation, message=message)


@receiver(signals.conversation_mode_changed, dispatch_uid="routing.ticket_follow")
def _changed(sender: Any, *, conversation: Conversation, kind: str, **kwargs: Any) -> None:
    services.ticket_follow(conversation=conversation, kind=kind)
