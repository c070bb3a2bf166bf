"""WeCom 微信客服: pull messages with sync_msg without losing any, and mirror session state.

The cursor is saved in the same transaction as the messages of the page it came with, so a
crash anywhere re-reads at most one page, and receiving is idempotent on msgid.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services import conversation_channel_set
from apps.core.side_effects import enqueue_on_commit
from apps.wechat import client
from apps.wechat.channels import WECOM_KF
from apps.wechat.client import KfMessage, PermanentApiError
from apps.wechat.kf import session
from apps.wechat.kf.events import (
    customer_ref,
    customer_wrote,
    kf_event_handle,
    kf_servicer_message_handle,
)
from apps.wechat.kf.messages import kf_content
from apps.wechat.menus import menu_click_receive
from apps.wechat.models import KfCursor, WechatAccount
from apps.wechat.services import WechatInbound, wechat_message_receive
from apps.wechat.tokens import with_access_token

logger = logging.getLogger(__name__)

CHANNEL = WECOM_KF
ORIGIN_CUSTOMER = 3
ORIGIN_EVENT = 4
ORIGIN_SERVICER = 5
_LOCK_NAMESPACE = 0x6B66  # "kf"


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
    """Store what a sync page brings (1 for a new customer or servicer message), once each."""
    if message.origin == ORIGIN_EVENT:
        kf_event_handle(account=account, message=message)
        return 0
    if not message.external_userid or not message.open_kfid:
        return 0
    if message.origin == ORIGIN_SERVICER:
        return kf_servicer_message_handle(account=account, message=message)
    if message.origin != ORIGIN_CUSTOMER:
        return 0
    content = kf_content(message, account=account)
    sent_at = datetime.fromtimestamp(message.send_time, tz=UTC) if message.send_time else timezone.now()
    inbound = WechatInbound(
        account=account,
        channel=CHANNEL,
        external_user_id=customer_ref(message),
        user_id=message.external_userid,
        open_kfid=message.open_kfid,
        channel_message_id=f"{account.app_id}:{message.msgid}",
        body=content.body,
        sent_at=sent_at,
        media=content.media,
    )
    # A click on a msgmenu item (the welcome's common questions, a rating) may have a fixed answer.
    if content.menu_key:
        received = menu_click_receive(inbound=inbound, key=content.menu_key)
    else:
        received = wechat_message_receive(inbound=inbound)
    if received.created:
        contact = session.contact_of(customer_id=received.message.conversation.customer_id)
        if contact is not None:
            customer_wrote(contact=contact)
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


def kf_conversation_changed(*, conversation_id: int) -> None:
    """The kf adapter's hook: keep WeCom's session where the desk's conversation now is.

    The bot and the desk's agents serve in state 1, so anything but a close moves a new session (0)
    to 1 and leaves 1 alone; a session WeCom itself serves (2, 3) or that ended is not touched.
    Closing ends the session (4) and uses the msg_code WeCom hands for it for the closing message.
    Read when the hook runs, not when the change was made, so a late run never rolls WeCom back.
    """
    conversation = Conversation.objects.get(pk=conversation_id)
    contact = session.contact_of(customer_id=conversation.customer_id)
    if contact is None:
        return
    state = session.state_known(contact)
    if conversation.mode == Conversation.Mode.CLOSED:
        if state == session.KfState.ENDED:
            return
        code = session.state_move(contact, session.KfState.ENDED)
        session.closing_send(account=contact.account, code=code, conversation_id=conversation_id)
        return
    if state == session.KfState.NEW:
        session.state_move(contact, session.KfState.ASSISTANT)


def kf_hand_to_wecom(*, conversation_id: int, servicer_userid: str, actor_id: int) -> None:
    """Hand the session to a WeCom servicer (3), or to WeCom's pool (2) when no userid is given.

    One way: WeCom never lets a session go from 3 back to 1. The desk stops writing and mirrors
    what the servicer types (origin 5); the conversation comes back to the desk after it ends.
    """
    contact = session.contact_for_conversation(conversation_id)
    if contact is None:
        raise session.KfMoveRefused("this customer has no WeCom 客服 session")
    to = session.KfState.SERVICER if servicer_userid else session.KfState.POOL
    session.state_move(contact, to, servicer_userid)
    conversation_channel_set(
        conversation_id=conversation_id,
        mode=Conversation.Mode.HUMAN,
        assignee_id=session.servicer_user_id(servicer_userid),
        kind=ConversationEvent.Kind.SERVED_IN_CHANNEL,
        actor=get_user_model().objects.get(pk=actor_id),
    )
