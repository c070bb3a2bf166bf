"""Receiving: every message a channel hands over is stored exactly once."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.conversations import events
from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.services.modes import conversation_reopen
from apps.conversations.services.outbound import conversation_reply
from apps.conversations.services.profile import customer_profile_due_at, customer_profile_request
from apps.conversations.services.satisfaction import (
    Rating,
    rating_parse,
    satisfaction_answer,
    satisfaction_awaiting,
)
from apps.conversations.services.state import (
    Mode,
    Status,
    enqueue_processing,
    exchange_audit,
    open_conversation_lock,
)
from apps.core import clock
from apps.core.ratelimit import TokenBucket

if TYPE_CHECKING:
    from apps.conversations.media.receive import InboundMedia

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool


def message_receive(
    *,
    channel: str,
    external_user_id: str,
    display_name: str,
    channel_message_id: str | None,
    body: str,
    client_ip: str | None = None,
    media: "InboundMedia | None" = None,
    menu_key: str = "",
    on_stored: Callable[[Message], None] | None = None,
) -> Received:
    """Store a customer message once and schedule its processing.

    Idempotent on (channel, channel_message_id): a redelivery returns the stored message
    and schedules nothing. A customer over the rate limit is stored too (nothing is lost),
    but not answered; they are told once per window. ``media``: the image, voice note, video or
    file the message carries (its body is then the label, e.g. "[图片]"); processing fetches and
    reads it first. ``menu_key``: the channel menu item the customer clicked, if any.
    ``on_stored``: the channel's own bookkeeping for a message stored now (WeChat's reply window),
    in the same transaction: a caller's transaction around this one would add a savepoint.

    A message that answers a satisfaction request (services/satisfaction.py) is stored in the rated
    conversation and recorded there instead: no processing, no reopening.
    """

    def settle(conversation: Conversation, message: Message) -> None:
        if media is not None:
            from apps.conversations.media.receive import attachments_create

            attachments_create(message=message, media=media)
        # Checked only for a message stored now: redeliveries must not spend the customer's tokens.
        if not _within_rate(f"{channel}:{external_user_id}"):
            _rate_limited(conversation=conversation, message=message)
        else:
            enqueue_processing(message.pk)

    return _store(
        channel=channel,
        external_user_id=external_user_id,
        display_name=display_name,
        channel_message_id=channel_message_id,
        fields={
            "direction": Message.Direction.INBOUND,
            "author_kind": Message.AuthorKind.CUSTOMER,
            "body": body,
            "status": Status.RECEIVED,
            "client_ip": client_ip,
        },
        settle=settle,
        # A file is never a rating; only a message that reads as one costs the look-up.
        rating=rating_parse(text=body, menu_key=menu_key) if media is None else None,
        on_stored=on_stored,
    )


def staff_message_record(
    *,
    channel: str,
    external_user_id: str,
    display_name: str,
    channel_message_id: str,
    body: str,
    author_id: int | None = None,
    event: AuditEvent = AuditEvent.AGENT_REPLY_FROM_PHONE,
) -> Received:
    """A message the staff sent outside the desk (the account's phone, a WeCom servicer's app):
    the channel has delivered it already, and the desk is its archive.

    It is stored as an agent message (by ``author_id`` when the channel knows the desk user), and
    the conversation goes to a human: the staff member is talking, so the bot stays silent until
    someone hands it back.
    """

    def settle(conversation: Conversation, message: Message) -> None:
        conversation.mode = Mode.HUMAN
        conversation.save(update_fields=["mode", "updated_at"])
        exchange_audit(event=event, conversation=conversation, message=message, response=body)
        logger.info("conversation %s: staff wrote outside the desk", conversation.pk)

    return _store(
        channel=channel,
        external_user_id=external_user_id,
        display_name=display_name,
        channel_message_id=channel_message_id,
        fields={
            "direction": Message.Direction.OUTBOUND,
            "author_kind": Message.AuthorKind.AGENT,
            "author_id": author_id,
            "body": body,
            "status": Status.DELIVERED,
            "delivered_at": timezone.now(),
        },
        settle=settle,
    )


def _store(
    *,
    channel: str,
    external_user_id: str,
    display_name: str,
    channel_message_id: str | None,
    fields: dict[str, object],
    settle: Callable[[Conversation, Message], None],
    rating: Rating | None = None,
    on_stored: Callable[[Message], None] | None = None,
) -> Received:
    # No look-up for a redelivery first: the unique (channel, channel_message_id) index turns one
    # away at the insert, and rolls back what this transaction did before it. WeChat resends only a
    # callback it had no ack for, so a statement spent on every message would buy little.
    try:
        with transaction.atomic():
            # Most messages come from a customer with an open conversation: found (and locked) with
            # their customer row in one query. A rating's answer may belong to a closed one: the
            # full path looks for it first.
            conversation = (
                None if rating is not None else open_conversation_lock(channel=channel, external_id=external_user_id)
            )
            awaiting, fresh = None, False
            if conversation is not None:
                _display_name_update(conversation.customer, display_name)
            else:
                customer, created = _customer_upsert(
                    channel=channel, external_id=external_user_id, display_name=display_name
                )
                if created:
                    # A new customer has no rating to answer; their conversation starts with this
                    # message, its recency set in the insert rather than by an UPDATE after it.
                    conversation, fresh = _conversation_create(customer=customer, last_message_at=clock.now()), True
                else:
                    # Before opening a conversation: the answer to a rating reopens nothing.
                    awaiting = satisfaction_awaiting(customer=customer, rating=rating)
                    conversation = (
                        awaiting.conversation if awaiting is not None else _conversation_open(customer=customer)
                    )
            message = Message.objects.create(
                conversation=conversation, channel=channel, channel_message_id=channel_message_id, **fields
            )
            if not fresh:
                # The desk's clock (apps/core/clock.py), so the timers that read it (idle close, queue
                # abandonment) can be tested with moved time; the same instant as created_at otherwise.
                _recency_set(conversation, clock.now())
            if awaiting is not None and rating is not None:
                satisfaction_answer(satisfaction=awaiting, message=message, rating=rating)
            else:
                settle(conversation, message)
            if on_stored is not None:
                on_stored(message)
            events.conversation_changed(conversation_id=conversation.pk, message_id=message.pk)
    except IntegrityError:
        # A redelivery, or a concurrent delivery of the same channel message that won the insert.
        existing = (
            Message.objects.filter(channel=channel, channel_message_id=channel_message_id).first()
            if channel_message_id
            else None
        )
        if existing is None:
            raise  # another constraint: not a duplicate
        return Received(message=existing, created=False)
    return Received(message=message, created=True)


_RECENCY = f"UPDATE {Conversation._meta.db_table} SET last_message_at = %s, updated_at = %s WHERE id = %s"  # noqa: S608


def _recency_set(conversation: Conversation, at: datetime) -> None:
    """conversation.save(update_fields=["last_message_at", "updated_at"]) as one constant statement."""
    conversation.last_message_at, conversation.updated_at = at, timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_RECENCY, [conversation.last_message_at, conversation.updated_at, conversation.pk])


def conversation_open(*, channel: str, external_id: str, display_name: str = "") -> Conversation:
    """The customer's open conversation, locked, creating customer and conversation on first contact.

    For a channel event that is not a message (a subscription, say). Call inside a transaction: it
    takes the same locks, in the same order, as receiving a message.
    """
    customer, created = _customer_upsert(channel=channel, external_id=external_id, display_name=display_name)
    return _conversation_create(customer=customer) if created else _conversation_open(customer=customer)


def _customer_upsert(*, channel: str, external_id: str, display_name: str) -> tuple[Customer, bool]:
    """The customer, and whether this transaction created them (one INSERT; a SELECT only for a
    known customer, which the steady state finds with its open conversation instead)."""
    # Inserted already due for a profile where the channel can tell one (no UPDATE after the insert).
    due = customer_profile_due_at(channel=channel)
    customer = Customer(channel=channel, external_id=external_id, display_name=display_name, profile_due_at=due)
    if _customer_insert(customer):
        # First sight of this customer: their channel is asked who they are, in a task after commit.
        customer_profile_request(customer=customer)
        return customer, True
    # Known, or a concurrent first message inserted them: ON CONFLICT waited for its commit, and
    # this new statement sees the row.
    customer = Customer.objects.get(channel=channel, external_id=external_id)
    _display_name_update(customer, display_name)
    return customer, False


@cache
def _customer_insert_sql() -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(f for f in Customer._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    table = quote(Customer._meta.db_table)
    # Names come from the model, values are parameters. RETURNING gives no row on a conflict.
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"  # noqa: S608
    )
    return sql, fields


def _customer_insert(customer: Customer) -> bool:
    """Insert ``customer`` unless their (channel, external_id) exists; True (and its pk set) if inserted.

    Not get_or_create: its look-up, savepoint and retry cost three statements more on every first
    contact. The values go through each field's pre_save and get_db_prep_save, as the ORM's insert
    does (timestamps, the name's blind index)."""
    sql, fields = _customer_insert_sql()
    params = [f.get_db_prep_save(f.pre_save(customer, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    customer.pk = row[0]
    customer._state.adding = False
    customer._state.db = connection.alias
    return True


def _display_name_update(customer: Customer, display_name: str) -> None:
    if display_name and customer.display_name != display_name:
        customer.display_name = display_name
        customer.save(update_fields=["display_name", "search_index", "updated_at"])


def _conversation_open(*, customer: Customer) -> Conversation:
    """The customer's open conversation (locked), the one closed within DESK_REOPEN_GRACE_S
    reopened, or a new one."""
    open_ = Conversation.objects.select_for_update().filter(customer=customer).exclude(mode=Mode.CLOSED).first()
    if open_ is not None:
        return open_
    # Rare path (first contact, or the first message after a close): the customer's lock
    # serialises a reopen against a concurrent first message, in the project's lock order.
    list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True))
    open_ = Conversation.objects.select_for_update().filter(customer=customer).exclude(mode=Mode.CLOSED).first()
    if open_ is not None:
        return open_
    recent = _recently_closed(customer)
    if recent is not None:
        return conversation_reopen(recent)
    try:
        with transaction.atomic():
            return Conversation.objects.create(customer=customer, channel=customer.channel)
    except IntegrityError:
        # Two first messages of a new customer raced; join the one that won.
        return Conversation.objects.select_for_update().filter(customer=customer).exclude(mode=Mode.CLOSED).get()


def _conversation_create(*, customer: Customer, last_message_at: datetime | None = None) -> Conversation:
    """The first conversation of a customer this transaction created. Until it commits no other
    transaction sees that customer, so none can hold or insert a conversation for them, and none of
    _conversation_open's locks, re-reads, reopen look-up or savepoint is needed. A concurrent first
    message waits in _customer_insert (the unique index) and then takes _conversation_open's path;
    conversation_one_open_per_customer remains the last guard."""
    return Conversation.objects.create(customer=customer, channel=customer.channel, last_message_at=last_message_at)


def _recently_closed(customer: Customer) -> Conversation | None:
    """The customer's last conversation, locked, when the desk closed it under DESK_REOPEN_GRACE_S
    ago: "thanks, one more thing" belongs with what came before. One the customer ended stays ended."""
    grace = settings.DESK_REOPEN_GRACE_S
    if grace <= 0:
        return None
    last = (
        Conversation.objects.select_for_update()
        .filter(customer=customer, mode=Mode.CLOSED, closed_at__gte=clock.now() - timedelta(seconds=grace))
        .order_by("-closed_at", "-pk")
        .first()
    )
    if last is None or last.end_reason == Conversation.EndReason.CUSTOMER_CLOSED:
        return None
    return last


@cache
def _bucket() -> TokenBucket:
    return TokenBucket(
        name="inbound",
        capacity=settings.DESK_INBOUND_RATE_BURST,
        per_second=settings.DESK_INBOUND_RATE_PER_MINUTE / 60,
    )


def _within_rate(customer_key: str) -> bool:
    if settings.DESK_INBOUND_RATE_BURST <= 0:
        return True
    try:
        return _bucket().take(customer_key).allowed
    except redis.RedisError:
        # Better to answer a flood than to drop a customer because Redis hiccupped.
        logger.warning("inbound rate limit unavailable; letting %s through", customer_key, exc_info=True)
        return True


def _rate_limited(*, conversation: Conversation, message: Message) -> None:
    message.status = Status.RATE_LIMITED
    message.save(update_fields=["status"])
    exchange_audit(event=AuditEvent.INBOUND_RATE_LIMITED, conversation=conversation, message=message)
    if _first_notice(f"{conversation.channel}:{conversation.customer.external_id}"):
        conversation_reply(
            conversation=conversation,
            body=settings.DESK_RATE_LIMITED_REPLY,
            author_kind=Message.AuthorKind.SYSTEM,
            reply_to=message,
        )


def _first_notice(customer_key: str) -> bool:
    # The window is the time the bucket takes to refill completely.
    window = int(settings.DESK_INBOUND_RATE_BURST * 60 / max(settings.DESK_INBOUND_RATE_PER_MINUTE, 1))
    try:
        return _bucket().first_in_window(customer_key, seconds=window)
    except redis.RedisError:
        return False
