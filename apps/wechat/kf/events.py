"""What WeCom 客服 tells the desk besides customer messages: events (origin 4) and what its own
servicers type in the WeCom app (origin 5). Each is handled once (keyed on WeCom's msgid), in the
transaction of the sync page it came with.
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from apps.audit.events import AuditEvent
from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services import conversation_channel_set, conversation_open, staff_message_record
from apps.wechat.channels import WECOM_KF
from apps.wechat.client import KfMessage
from apps.wechat.kf import session
from apps.wechat.kf.messages import kf_content
from apps.wechat.kf.session import KfState
from apps.wechat.models import WechatAccount, WechatContact
from apps.wechat.services import inbound_event_first

logger = logging.getLogger(__name__)

# session_status_change change_type: 1 taken from the pool, 2 transferred, 3 ended, 4 taken back up.
_TAKEN = {1, 2, 4}
_ENDED = 3


def message_body(message: KfMessage) -> str:
    return kf_content(message).body


def customer_ref(message: KfMessage) -> str:
    # One customer talking to two kf accounts is two conversations: replies go out per account.
    return f"{message.open_kfid}:{message.external_userid}"


def _contact(account: WechatAccount, message: KfMessage) -> WechatContact:
    """The customer's contact, created (with customer and conversation) on their first event."""
    conversation = conversation_open(channel=WECOM_KF, external_id=customer_ref(message))
    contact, _ = WechatContact.objects.select_related("account").get_or_create(
        account=account,
        open_kfid=message.open_kfid,
        user_id=message.external_userid,
        defaults={"customer_id": conversation.customer_id},
    )
    return contact


def kf_event_handle(*, account: WechatAccount, message: KfMessage) -> None:
    event = message.event or {}
    if not event.get("external_userid") or not event.get("open_kfid"):
        return
    message = message.model_copy(update={"external_userid": event["external_userid"], "open_kfid": event["open_kfid"]})
    if not inbound_event_first(key=f"kf:{account.app_id}:{message.msgid}"):
        return  # a page read again after a crash
    kind = event.get("event_type")
    if kind == "enter_session":
        _entered(account, message, event)
    elif kind == "session_status_change":
        _status_changed(account, message, event)


def _entered(account: WechatAccount, message: KfMessage, event: dict[str, object]) -> None:
    contact = _contact(account, message)
    contact.kf_scene = str(event.get("scene") or "")[:64]
    contact.kf_scene_param = str(event.get("scene_param") or "")[:256]
    contact.save(update_fields=["kf_scene", "kf_scene_param", "updated_at"])
    session.state_record(contact, KfState.NEW)
    code = str(event.get("welcome_code") or "")
    welcome = session.welcome_message(account)
    if not code or welcome is None:
        return
    # The code is good for 20 s from the event: a late sync must not try (and it is never retried).
    sent_at = message.send_time or time.time()
    deadline = sent_at + settings.WECHAT_KF_EVENT_CODE_SECONDS
    transaction.on_commit(
        lambda: _within(deadline) and session.event_reply(account=account, code=code, message=welcome, what="welcome")
    )


def _within(deadline: float) -> bool:
    if time.time() <= deadline:
        return True
    logger.info("kf welcome skipped: its code expired before the event was read")
    return False


def _status_changed(account: WechatAccount, message: KfMessage, event: dict[str, object]) -> None:
    contact = _contact(account, message)
    change = int(str(event.get("change_type") or 0))
    conversation_id = _open_conversation_id(contact)
    if change in _TAKEN:
        servicer = str(event.get("new_servicer_userid") or "")
        state = KfState.SERVICER if servicer else KfState.POOL
        session.state_record(contact, state, servicer)
        if conversation_id is not None:
            conversation_channel_set(
                conversation_id=conversation_id,
                mode=Conversation.Mode.HUMAN,
                assignee_id=session.servicer_user_id(servicer),
                kind=ConversationEvent.Kind.SERVED_IN_CHANNEL,
            )
    elif change == _ENDED:
        session.state_record(contact, KfState.ENDED)
        if conversation_id is not None:
            conversation_channel_set(
                conversation_id=conversation_id,
                mode=Conversation.Mode.CLOSED,
                assignee_id=None,
                kind=ConversationEvent.Kind.CLOSED,
            )
        code = str(event.get("msg_code") or "")
        transaction.on_commit(lambda: session.closing_send(account=account, code=code, conversation_id=conversation_id))


def _open_conversation_id(contact: WechatContact) -> int | None:
    return (
        Conversation.objects.filter(customer_id=contact.customer_id)
        .exclude(mode=Conversation.Mode.CLOSED)
        .values_list("pk", flat=True)
        .first()
    )


def kf_servicer_message_handle(*, account: WechatAccount, message: KfMessage) -> int:
    """A servicer wrote in the WeCom app: the desk archives it as an agent message (1 if new)."""
    body = message_body(message)
    with transaction.atomic():
        received = staff_message_record(
            channel=WECOM_KF,
            external_user_id=customer_ref(message),
            display_name="",
            channel_message_id=f"{account.app_id}:{message.msgid}",
            body=body,
            author_id=session.servicer_user_id(message.servicer_userid),
            event=AuditEvent.AGENT_REPLY_IN_CHANNEL,
        )
        if received.created:
            contact = _contact(account, message)
            if contact.kf_state != KfState.SERVICER:
                session.state_record(contact, KfState.SERVICER, message.servicer_userid)
    return int(received.created)


def customer_wrote(*, contact: WechatContact) -> None:
    """After an ended session the customer's message starts a new one, in a state WeCom decides."""
    if contact.kf_state == KfState.ENDED:
        session.state_record(contact, None)
