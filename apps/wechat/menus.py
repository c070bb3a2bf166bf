"""Menu clicks: an Official Account menu's CLICK / VIEW events and WeCom 客服 msgmenu items.

A click is stored as a customer message (deduplicated like one), so nothing is dropped and the
console shows it. A key with a MenuReply is answered with that fixed text at once, as the bot,
in the transaction that stores it (processing then finds it answered); any other key goes to the
answerer like a typed question.
"""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.conversations.models import Conversation, Message
from apps.conversations.services import Received, conversation_reply
from apps.conversations.services.state import exchange_audit, lock_inbound, status_set
from apps.wechat.models import MenuReply, WechatAccount
from apps.wechat.services import WechatInbound, wechat_message_receive


def menu_reply_text(*, account: WechatAccount, key: str) -> str | None:
    """The account's own reply for ``key``, else the one shared by every account."""
    return (
        MenuReply.objects.filter(Q(account=account) | Q(account__isnull=True), key=key, is_active=True)
        .order_by(F("account_id").asc(nulls_last=True))
        .values_list("reply", flat=True)
        .first()
    )


def menu_click_receive(*, inbound: WechatInbound, key: str) -> Received:
    with transaction.atomic():
        received = wechat_message_receive(inbound=inbound, menu_key=key)
        reply = menu_reply_text(account=inbound.account, key=key) if received.created and key else None
        if reply:
            _menu_answer(message_id=received.message.pk, reply=reply, key=key)
    return received


def _menu_answer(*, message_id: int, reply: str, key: str) -> None:
    conversation, message = lock_inbound(message_id)
    # Rate limited, or a person serves the conversation: the click is theirs to see, not the bot's.
    if message.status != Message.Status.RECEIVED or conversation.mode != Conversation.Mode.BOT:
        return
    meta: dict[str, object] = {"source": "menu", "menu_key": key[:200]}
    conversation_reply(
        conversation=conversation,
        body=reply,
        author_kind=Message.AuthorKind.BOT,
        reply_to=message,
        answer_meta=meta,
    )
    status_set(message, Message.Status.ANSWERED, answered_at=timezone.now(), answer_ms=0)
    exchange_audit(event=AuditEvent.BOT_ANSWER, conversation=conversation, message=message, response=reply, meta=meta)
