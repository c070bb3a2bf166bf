"""Official Account callbacks: turn one verified, decrypted callback into stored work."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from apps.conversations.models import Message
from apps.conversations.services import Received, conversation_open, conversation_reply
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.crypto import BadPayload
from apps.wechat.menus import menu_click_receive
from apps.wechat.models import WechatAccount
from apps.wechat.official_account.messages import MENU_EVENTS, OaContent, oa_content
from apps.wechat.services import (
    WechatInbound,
    contact_window_open,
    inbound_event_first,
    wechat_message_receive,
)

logger = logging.getLogger(__name__)

CHANNEL = OFFICIAL_ACCOUNT


@dataclass(frozen=True)
class OaCallback:
    openid: str
    account_user: str  # ToUserName: the account's original id (gh_…), the sender of a passive reply
    create_time: int
    msg_type: str
    msg_id: str
    text: str
    event: str
    content: OaContent

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "OaCallback":
        openid = fields.get("FromUserName", "")
        msg_type = fields.get("MsgType", "").lower()
        try:
            create_time = int(fields.get("CreateTime", ""))
        except ValueError as exc:
            raise BadPayload("CreateTime is not an integer") from exc
        if not openid or len(openid) > 64 or not msg_type:
            raise BadPayload("FromUserName or MsgType missing")
        event = fields.get("Event", "").lower()[:40]
        content = oa_content(msg_type=msg_type, event=event, fields=fields)
        return cls(
            openid=openid,
            account_user=fields.get("ToUserName", "")[:64],
            create_time=create_time,
            msg_type=msg_type,
            msg_id=fields.get("MsgId", "")[:40],
            text=content.body,
            event=event,
            content=content,
        )

    @property
    def key(self) -> str:
        """What identifies the callback across WeChat's tries: MsgId, or sender + time for an event."""
        return self.msg_id or f"{self.openid}:{self.create_time}"


def oa_callback_accept(
    *, account: WechatAccount, callback: OaCallback, client_ip: str | None = None
) -> Received | None:
    """Store what the callback says (None for an event other than a menu click). The answer goes out
    through custom-send, or in the response to a callback when the account replies passively (hold.py)."""
    sent_at = datetime.fromtimestamp(callback.create_time, tz=UTC)
    is_menu_click = callback.msg_type == "event" and callback.event in MENU_EVENTS
    if callback.msg_type == "event" and not is_menu_click:
        if callback.event == "subscribe":
            _subscribe_greet(account=account, callback=callback, sent_at=sent_at)
        return None
    # Messages dedupe on MsgId (WeChat sends the same one up to three times), a menu click on
    # FromUserName + CreateTime, since events have no MsgId.
    inbound = WechatInbound(
        account=account,
        channel=CHANNEL,
        external_user_id=callback.openid,
        user_id=callback.openid,
        open_kfid="",
        channel_message_id=f"{account.app_id}:{callback.key}",
        body=callback.text,
        sent_at=sent_at,
        client_ip=client_ip,
        media=callback.content.media(account),
    )
    if is_menu_click:
        return menu_click_receive(inbound=inbound, key=callback.content.menu_key)
    return wechat_message_receive(inbound=inbound)


def _subscribe_greet(*, account: WechatAccount, callback: OaCallback, sent_at: datetime) -> None:
    greeting = settings.WECHAT_SUBSCRIBE_GREETING
    with transaction.atomic():
        # Events have no MsgId: FromUserName + CreateTime identifies them across retries.
        if not inbound_event_first(key=f"oa:{account.app_id}:{callback.openid}:{callback.create_time}:subscribe"):
            return
        conversation = conversation_open(channel=CHANNEL, external_id=callback.openid)
        contact_window_open(
            account=account, customer_id=conversation.customer_id, open_kfid="", user_id=callback.openid, at=sent_at
        )
        if greeting:
            conversation_reply(conversation=conversation, body=greeting, author_kind=Message.AuthorKind.SYSTEM)
