from dataclasses import dataclass
from typing import cast

from django.db import connection
from django.db.models import Q

from apps.conversations.channels import channel_choices, channel_kinds, get_adapter, overrides_hook
from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import Turn
from apps.core.fields import EncryptedTextField

_CONTEXT_AUTHORS = (Message.AuthorKind.CUSTOMER, Message.AuthorKind.BOT, Message.AuthorKind.AGENT)
# Raw and constant (issue 22: the ORM's compile of this read was ~3 % of an llm worker); served by
# the (conversation, id) index. The body is decrypted by its field, as the ORM would.
_CONTEXT = (
    f"SELECT author_kind, body FROM {Message._meta.db_table}"  # noqa: S608
    f" WHERE conversation_id = %s AND author_kind IN ({', '.join(['%s'] * len(_CONTEXT_AUTHORS))})"
)
_CONTEXT_LATEST = f"{_CONTEXT} ORDER BY id DESC LIMIT %s"
_CONTEXT_BEFORE = f"{_CONTEXT} AND id < %s ORDER BY id DESC LIMIT %s"
_BODY = cast(EncryptedTextField, Message._meta.get_field("body"))


def conversation_context(*, conversation: Conversation, before_id: int | None = None, turns: int) -> list[Turn]:
    """The last ``turns`` exchanges (customer message + reply) before ``before_id``, oldest first."""
    params: list[int | str] = [conversation.pk, *_CONTEXT_AUTHORS]
    if before_id is not None:
        params.append(before_id)
    with connection.cursor() as cursor:
        cursor.execute(_CONTEXT_LATEST if before_id is None else _CONTEXT_BEFORE, [*params, turns * 2])
        latest = cursor.fetchall()
    latest.reverse()
    return [
        Turn(
            role="customer" if kind == Message.AuthorKind.CUSTOMER else "assistant",
            text=_BODY.from_db_value(body, None, connection) or "",
        )
        for kind, body in latest
    ]


def customer_messages_after(*, channel: str, external_id: str, after_id: int, limit: int = 200) -> list[Message]:
    """What a customer can see: their messages and every reply that reached them."""
    return list(
        Message.objects.filter(
            conversation__customer__channel=channel,
            conversation__customer__external_id=external_id,
            id__gt=after_id,
        )
        .exclude(direction=Message.Direction.OUTBOUND, status__in=[Message.Status.PROCESSING, Message.Status.FAILED])
        .order_by("id")[:limit]
    )


@dataclass(frozen=True)
class AccountGroup:
    """A channel's accounts, as a filter offers them: values are "<channel>:<key>" (account_filter)."""

    channel: str
    label: str
    accounts: list[tuple[str, str]]


def channel_accounts() -> list[AccountGroup]:
    """The accounts of every configured channel that has some (ChannelAdapter.accounts), in the
    registry's order; a query or so per such channel, none for the others."""
    groups = []
    for kind, label in channel_choices():
        if not overrides_hook(kind, "accounts"):
            continue
        found = get_adapter(kind).accounts()
        if found:
            groups.append(AccountGroup(kind, str(label), [(f"{kind}:{a.key}", a.label) for a in found]))
    return groups


def account_filter(*, account: str, customer: str = "customer") -> Q:
    """Rows whose customer wrote to ``account`` ("<channel>:<key>"): one subquery from the channel's
    ``account_customers``. ``customer``: the path from the rows to their Customer ("" for customers).
    An unknown channel or account matches nothing."""
    channel, _, key = account.partition(":")
    external_ids = None
    if key and channel in channel_kinds() and overrides_hook(channel, "account_customers"):
        external_ids = get_adapter(channel).account_customers(key=key)
    prefix = f"{customer}__" if customer else ""
    return Q(**{f"{prefix}channel": channel, f"{prefix}external_id__in": [] if external_ids is None else external_ids})
