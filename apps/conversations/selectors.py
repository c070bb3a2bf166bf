from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import Turn

_CONTEXT_AUTHORS = (Message.AuthorKind.CUSTOMER, Message.AuthorKind.BOT, Message.AuthorKind.AGENT)


def conversation_context(*, conversation: Conversation, before_id: int | None = None, turns: int) -> list[Turn]:
    """The last ``turns`` exchanges (customer message + reply) before ``before_id``, oldest first."""
    rows = Message.objects.filter(conversation=conversation, author_kind__in=_CONTEXT_AUTHORS)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    latest = list(rows.order_by("-id").values_list("author_kind", "body")[: turns * 2])
    latest.reverse()
    return [
        Turn(role="customer" if kind == Message.AuthorKind.CUSTOMER else "assistant", text=body)
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
