"""Writes shared by the WeChat channels: receiving a customer message and keeping the reply window."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.conversations.models import Message
from apps.conversations.services import Received, message_receive
from apps.wechat.models import InboundEvent, WechatAccount, WechatContact

if TYPE_CHECKING:
    from apps.conversations.media.receive import InboundMedia


@dataclass(frozen=True)
class WechatInbound:
    account: WechatAccount
    channel: str
    external_user_id: str  # the Customer's external id on our side
    user_id: str  # OpenID or external_userid, as WeChat knows the customer
    open_kfid: str
    channel_message_id: str
    body: str
    sent_at: datetime
    client_ip: str | None = None  # the webhook caller's address, for the audit log
    # The image, voice note, video or file the message carries, as WeChat references it.
    media: "InboundMedia | None" = None


def wechat_message_receive(*, inbound: WechatInbound, menu_key: str = "") -> Received:
    """Store a customer message once and open its reply window, in one transaction.

    ``menu_key``: the menu item the customer clicked (a rating menu's click answers a rating)."""
    body = inbound.body[: settings.DESK_INBOUND_MAX_CHARS]

    def window_open(message: Message) -> None:
        contact_window_open(
            account=inbound.account,
            customer_id=message.conversation.customer_id,
            open_kfid=inbound.open_kfid,
            user_id=inbound.user_id,
            at=inbound.sent_at,
        )

    # The window opens inside message_receive's own transaction (on_stored): one BEGIN/COMMIT
    # per callback, no savepoint, and a redelivery (created=False) opens nothing, as before.
    return message_receive(
        channel=inbound.channel,
        external_user_id=inbound.external_user_id,
        display_name="",
        channel_message_id=inbound.channel_message_id,
        body=body,
        client_ip=inbound.client_ip,
        media=inbound.media,
        menu_key=menu_key,
        on_stored=window_open,
    )


def contact_window_open(
    *, account: WechatAccount, customer_id: int, open_kfid: str, user_id: str, at: datetime
) -> None:
    """The customer wrote at ``at``: WeChat allows a fresh reply budget from then on."""
    now = timezone.now()
    table = WechatContact._meta.db_table
    # One statement instead of get_or_create + update: this runs before every webhook ack.
    # The window only moves forward, since messages of a kf page can arrive out of order.
    sql = f"""
        INSERT INTO {table} (account_id, customer_id, open_kfid, user_id, window_opened_at,
                             sent_in_window, quota_errors, kf_servicer_userid, kf_scene, kf_scene_param,
                             updated_at)
        VALUES (%s, %s, %s, %s, %s, 0, 0, '', '', '', %s)
        ON CONFLICT (account_id, open_kfid, user_id) DO UPDATE
        SET window_opened_at = EXCLUDED.window_opened_at, sent_in_window = 0, updated_at = EXCLUDED.updated_at
        WHERE {table}.window_opened_at IS NULL OR {table}.window_opened_at < EXCLUDED.window_opened_at
    """  # noqa: S608 - the table name comes from the model, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, customer_id, open_kfid, user_id, min(at, now), now])


def inbound_event_first(*, key: str) -> bool:
    """True the first time an event key is seen (call inside a transaction)."""
    try:
        with transaction.atomic():
            InboundEvent.objects.create(key=key[:255])
    except IntegrityError:
        return False
    return True
