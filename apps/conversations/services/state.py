"""What every stage shares: status changes, row locks and after-commit enqueueing."""

from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import AuditRow, audit_record_many
from apps.conversations.models import Conversation, Message
from apps.core.side_effects import enqueue_on_commit

Status = Message.Status
Mode = Conversation.Mode


def status_set(message: Message, status: str, **fields: object) -> None:
    message.status = status
    message.status_changed_at = timezone.now()
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=["status", "status_changed_at", *fields.keys()])


def lock_inbound(message_id: int, conversation_id: int | None = None) -> tuple[Conversation, Message]:
    """Lock a customer message and its conversation, in the project's lock order.

    ``conversation_id``: the message's, when the caller has read it already (a message never
    moves to another conversation), which saves the look-up."""
    if conversation_id is None:
        conversation_id = Message.objects.values_list("conversation_id", flat=True).get(pk=message_id)
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).select_related("customer").get(pk=conversation_id)
    )
    message = Message.objects.select_for_update().get(pk=message_id)
    return conversation, message


def enqueue_processing(message_id: int) -> None:
    from apps.conversations.tasks import process_inbound

    enqueue_on_commit(process_inbound, message_id)


def enqueue_delivery(message_id: int) -> None:
    from apps.conversations.tasks import deliver

    enqueue_on_commit(deliver, message_id)


def exchange_audit(
    *,
    event: AuditEvent,
    conversation: Conversation,
    message: Message,
    response: str = "",
    meta: dict[str, object] | None = None,
    latency_ms: int | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """One audit row per customer message, written with the change that settles it."""
    meta = meta or {}
    # audit_record_many: no savepoint of its own (two statements fewer); every caller settles a
    # message in a transaction that an audit failure must roll back whole anyway.
    audit_record_many(
        [
            AuditRow(
                kind=AuditLog.Kind.EXCHANGE,
                event=event,
                customer_ref=f"{conversation.channel}:{conversation.customer.external_id}",
                channel=conversation.channel,
                conversation_id=conversation.pk,
                message_id=message.pk,
                query=message.body,
                response=response,
                model=str(meta.get("model") or ""),
                endpoint=str(meta.get("endpoint") or ""),
                latency_ms=latency_ms,
                client_ip=message.client_ip,
                details={"source": meta.get("source", ""), **(details or {})},
            )
        ]
    )
