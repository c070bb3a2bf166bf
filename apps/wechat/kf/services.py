"""WeCom 微信客服: pull messages with sync_msg without losing any, and mirror session state.

The cursor is saved in the same transaction as the messages of the page it came with, so a
crash anywhere re-reads at most one page, and receiving is idempotent on msgid.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.core.side_effects import enqueue_on_commit
from apps.wechat import client
from apps.wechat.channels import WECOM_KF
from apps.wechat.client import KfMessage, PermanentApiError
from apps.wechat.models import KfCursor, WechatAccount, WechatContact, WecomServicer
from apps.wechat.services import WechatInbound, wechat_message_receive
from apps.wechat.tokens import with_access_token

logger = logging.getLogger(__name__)

CHANNEL = WECOM_KF
ORIGIN_CUSTOMER = 3
_LOCK_NAMESPACE = 0x6B66  # "kf"

# service_state values of kf/service_state/trans.
STATE_BOT = 1
STATE_QUEUED = 2
STATE_HUMAN = 3
STATE_FOR_MODE = {
    Conversation.Mode.BOT: STATE_BOT,
    Conversation.Mode.QUEUED: STATE_QUEUED,
    Conversation.Mode.HUMAN: STATE_HUMAN,
}

_PLACEHOLDERS = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "file": "[文件]",
    "location": "[位置]",
    "link": "[链接]",
    "business_card": "[名片]",
    "miniprogram": "[小程序]",
}


def _enqueue_sync(cursor_id: int) -> None:
    from apps.wechat.tasks import kf_sync

    enqueue_on_commit(kf_sync, cursor_id)


def kf_callback_accept(*, account: WechatAccount, open_kfid: str, callback_token: str) -> KfCursor:
    with transaction.atomic():
        cursor, _ = KfCursor.objects.get_or_create(account=account, open_kfid=open_kfid)
        KfCursor.objects.filter(pk=cursor.pk).update(callback_token=callback_token[:256], callback_at=timezone.now())
        _enqueue_sync(cursor.pk)
    return cursor


@dataclass(frozen=True)
class KfSyncReport:
    pages: int
    fetched: int
    stored: int


def kf_sync(*, cursor_id: int) -> KfSyncReport:
    """Page through sync_msg from the saved cursor until has_more is 0."""
    pages = fetched = stored = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as db:
                # One sync per kf account at a time; callbacks keep writing the row meanwhile.
                db.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, cursor_id % 2**31])
            cursor = KfCursor.objects.select_related("account").get(pk=cursor_id)
            try:
                page = _fetch_page(cursor)
            except PermanentApiError:
                if not cursor.callback_token:
                    raise
                # The callback token lives 10 minutes; without one sync_msg still works, rate limited.
                KfCursor.objects.filter(pk=cursor.pk).update(callback_token="")
                continue
            for message in page.msg_list:
                stored += _kf_message_handle(account=cursor.account, message=message)
            updates: dict[str, object] = {
                "cursor": page.next_cursor or cursor.cursor,
                "messages_synced": F("messages_synced") + len(page.msg_list),
                "last_error": "",
            }
            if not page.has_more:
                updates["synced_at"] = timezone.now()
            KfCursor.objects.filter(pk=cursor.pk).update(**updates)
        pages += 1
        fetched += len(page.msg_list)
        if not page.has_more:
            return KfSyncReport(pages=pages, fetched=fetched, stored=stored)


def _fetch_page(cursor: KfCursor) -> client.KfSyncPage:
    return with_access_token(
        account=cursor.account,
        call=lambda token: client.kf_sync_msg(
            access_token=token,
            open_kfid=cursor.open_kfid,
            cursor=cursor.cursor,
            callback_token=cursor.callback_token,
            limit=settings.WECHAT_KF_SYNC_LIMIT,
        ),
    )


def _kf_message_handle(*, account: WechatAccount, message: KfMessage) -> int:
    """Store a customer message (1 if new). Events and servicer messages need no bot answer."""
    if message.origin != ORIGIN_CUSTOMER or not message.external_userid or not message.open_kfid:
        return 0
    if message.msgtype == "text":
        body = str((message.text or {}).get("content", ""))
    else:
        body = _PLACEHOLDERS.get(message.msgtype, f"[{message.msgtype[:20]}]")
    sent_at = datetime.fromtimestamp(message.send_time, tz=UTC) if message.send_time else timezone.now()
    received = wechat_message_receive(
        inbound=WechatInbound(
            account=account,
            channel=CHANNEL,
            # One customer talking to two kf accounts is two conversations: replies go out per account.
            external_user_id=f"{message.open_kfid}:{message.external_userid}",
            user_id=message.external_userid,
            open_kfid=message.open_kfid,
            channel_message_id=f"{account.app_id}:{message.msgid}",
            body=body,
            sent_at=sent_at,
        )
    )
    return int(received.created)


def kf_sync_failed(*, cursor_id: int, error: str) -> None:
    KfCursor.objects.filter(pk=cursor_id).update(last_error=error[:500])


def kf_sync_sweep() -> int:
    """Enqueue a sync for every kf account whose latest callback was not followed by a full sync."""
    cutoff = timezone.now() - timedelta(seconds=settings.WECHAT_KF_SYNC_GRACE_SECONDS)
    stale = KfCursor.objects.filter(callback_at__lt=cutoff).filter(
        Q(synced_at__isnull=True) | Q(synced_at__lt=F("callback_at"))
    )
    ids = list(stale.values_list("pk", flat=True)[:500])
    with transaction.atomic():
        for cursor_id in ids:
            _enqueue_sync(cursor_id)
    return len(ids)


def kf_state_mirror(*, conversation_id: int) -> int | None:
    """Push the conversation's serving state to WeCom as it is now (the kf adapter's hook).

    Read when the hook runs, not when the change was made, so a late run never rolls WeCom back.
    A conversation taken by an agent whose WeCom userid is unknown is not pushed: WeCom cannot
    name a servicer without it.
    """
    mode, assignee_id = Conversation.objects.values_list("mode", "assignee_id").get(pk=conversation_id)
    servicer_userid = ""
    if mode == Conversation.Mode.HUMAN and assignee_id is not None:
        servicer_userid = (
            WecomServicer.objects.filter(user_id=assignee_id).values_list("userid", flat=True).first() or ""
        )
    if mode == Conversation.Mode.HUMAN and not servicer_userid:
        logger.warning("conversation %s: the agent has no WeCom userid; kf state not pushed", conversation_id)
        return None
    return kf_service_state_set(conversation_id=conversation_id, servicer_userid=servicer_userid)


def kf_service_state_set(*, conversation_id: int, servicer_userid: str = "") -> int | None:
    """Tell WeChat who serves the customer now: our takeover -> 3, hand-back -> 1, queue -> 2.

    Returns the state sent, or None when the conversation is not a kf one or is closed.
    """
    conversation = Conversation.objects.select_related("customer").get(pk=conversation_id)
    state = STATE_FOR_MODE.get(Conversation.Mode(conversation.mode))
    if conversation.channel != CHANNEL or state is None:
        return None
    if state == STATE_HUMAN and not servicer_userid:
        raise ValueError("service_state 3 needs the servicer's WeCom userid")
    contact = WechatContact.objects.select_related("account").get(customer_id=conversation.customer_id)
    with_access_token(
        account=contact.account,
        call=lambda token: client.kf_service_state_trans(
            access_token=token,
            open_kfid=contact.open_kfid,
            external_userid=contact.user_id,
            service_state=state,
            servicer_userid=servicer_userid if state == STATE_HUMAN else "",
        ),
    )
    return state
