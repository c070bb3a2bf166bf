"""What every stage shares: status changes, row locks and after-commit enqueueing."""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import AuditRow, audit_record_many
from apps.conversations.models import Conversation, Customer, Message
from apps.core.side_effects import enqueue_on_commit

Status = Message.Status
Mode = Conversation.Mode


def status_set(message: Message, status: str, **fields: object) -> None:
    message.status = status
    message.status_changed_at = timezone.now()
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=["status", "status_changed_at", *fields.keys()])


M = TypeVar("M", bound=Model)


def columns_of(model: type[Model], alias: str) -> str:
    """A model's columns for a raw SELECT or RETURNING, in the order row_to reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@cache
def _converters(model: type[Model]) -> tuple[list[str], list[tuple[int, Callable[..., Any]]]]:
    fields = model._meta.concrete_fields
    # What the ORM's compiler would apply: a field's from_db_value (decryption, JSON, arrays of them).
    return [f.attname for f in fields], [
        (i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")
    ]


def row_to(model: type[M], values: Sequence[Any]) -> M:
    """A model instance from a raw row of columns_of's columns, as the ORM would have built it."""
    names, converters = _converters(model)
    row = list(values)
    for index, convert in converters:
        row[index] = convert(row[index], None, connection)
    return model.from_db(connection.alias, names, row)


# Raw, constant statements for the spine's locks (issue 22: the ORM's compile of a locked
# select_related read cost more than the lock itself). Table and column names come from _meta.
_CONVERSATION_COLUMNS = len(Conversation._meta.concrete_fields)
# A conversation with its customer, locked (not the customer row): each statement adds its WHERE.
_CONVERSATION_WITH_CUSTOMER = (
    f"SELECT {columns_of(Conversation, 'c')}, {columns_of(Customer, 'u')}"  # noqa: S608
    f" FROM {Conversation._meta.db_table} AS c JOIN {Customer._meta.db_table} AS u ON u.id = c.customer_id"
)
_CONVERSATION_LOCK = f"{_CONVERSATION_WITH_CUSTOMER} WHERE c.id = %s FOR UPDATE OF c"
_OPEN_CONVERSATION_LOCK = (
    f"{_CONVERSATION_WITH_CUSTOMER}"
    " WHERE u.channel = %s AND u.external_id = %s AND c.mode <> %s ORDER BY c.id LIMIT 1 FOR UPDATE OF c"
)
_MESSAGE_LOCK = f"SELECT {columns_of(Message, 'm')} FROM {Message._meta.db_table} AS m WHERE m.id = %s FOR UPDATE"  # noqa: S608
_MESSAGE_CONVERSATION = f"SELECT conversation_id FROM {Message._meta.db_table} WHERE id = %s"  # noqa: S608


def _conversation_locked(sql: str, params: Sequence[int | str]) -> Conversation | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    conversation = row_to(Conversation, row[:_CONVERSATION_COLUMNS])
    Conversation.customer.field.set_cached_value(conversation, row_to(Customer, row[_CONVERSATION_COLUMNS:]))
    return conversation


def open_conversation_lock(*, channel: str, external_id: str) -> Conversation | None:
    """The customer's open conversation, locked (not the customer row), read with its customer;
    None for a new customer or one without an open conversation. Every steady-state message asks."""
    return _conversation_locked(_OPEN_CONVERSATION_LOCK, [channel, external_id, Mode.CLOSED])


def conversation_lock(conversation_id: int) -> Conversation:
    """Lock a conversation (until commit) and read it, with its customer, as the lock found it."""
    conversation = _conversation_locked(_CONVERSATION_LOCK, [conversation_id])
    if conversation is None:
        raise Conversation.DoesNotExist(f"conversation {conversation_id}")
    return conversation


def lock_inbound(message_id: int, conversation_id: int | None = None) -> tuple[Conversation, Message]:
    """Lock a customer message and its conversation, in the project's lock order.

    ``conversation_id``: the message's, when the caller has read it already (a message never
    moves to another conversation), which saves the look-up."""
    with connection.cursor() as cursor:
        if conversation_id is None:
            cursor.execute(_MESSAGE_CONVERSATION, [message_id])
            found = cursor.fetchone()
            if found is None:
                raise Message.DoesNotExist(f"message {message_id}")
            conversation_id = found[0]
        conversation = conversation_lock(conversation_id)
        cursor.execute(_MESSAGE_LOCK, [message_id])
        row = cursor.fetchone()
    if row is None:
        raise Message.DoesNotExist(f"message {message_id}")
    message = row_to(Message, row)
    Message.conversation.field.set_cached_value(message, conversation)
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
