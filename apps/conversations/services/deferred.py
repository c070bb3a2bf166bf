"""Deliveries a channel deferred (``channels.DeliveryDeferred``) and completes on its own schedule.

An Official Account in passive mode cannot push: a reply goes out in the response to one of the
customer's callbacks. Until then the message stays processing; the channel marks it delivered the
moment a response carries it, under the message's row lock, so two callbacks never both hand it out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from apps.conversations import events
from apps.conversations.models import Message
from apps.conversations.services.state import Status
from apps.core import metrics


@dataclass(frozen=True)
class DeferredMessage:
    message_id: int
    conversation_id: int
    body: str
    created_at: datetime


def deferred_lock(*, message_ids: Sequence[int]) -> dict[int, DeferredMessage]:
    """Lock those of ``message_ids`` still waiting for their channel, skipping rows another
    transaction holds (a concurrent hand-out, or the deliver task re-asking the adapter).

    Call inside the transaction that hands them out; the lock is what makes a hand-out once-only.
    """
    rows = (
        Message.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=list(message_ids), direction=Message.Direction.OUTBOUND, status=Status.PROCESSING)
        .only("pk", "conversation_id", "body", "created_at")
    )
    return {
        row.pk: DeferredMessage(
            message_id=row.pk, conversation_id=row.conversation_id, body=row.body, created_at=row.created_at
        )
        for row in rows
    }


def deferred_delivered(*, message: DeferredMessage, at: datetime) -> None:
    """The channel handed a deferred message to the customer (lock it with ``deferred_lock`` first)."""
    updated = Message.objects.filter(pk=message.message_id, status=Status.PROCESSING).update(
        status=Status.DELIVERED, status_changed_at=at, delivered_at=at
    )
    if updated:
        metrics.stage_observe("deliver", (at - message.created_at).total_seconds())
        events.conversation_changed(conversation_id=message.conversation_id, message_id=message.message_id)
