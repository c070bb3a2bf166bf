"""WeCom 客服 session states, mirrored per customer: who may write to the customer now.

WeCom keeps one session per (kf account, customer) in one of five states and lets kf/send_msg
through only in 0 and 1. The desk's bot and the desk's own agents (browser console) serve in 1;
handing to a WeCom servicer (3) or WeCom's pool (2) is a separate, one-way step: 3 never goes
back to 1, so such a session returns to the desk only after it ends (4) and the customer writes
again (a new session starts at 0). The mirror is written whenever the desk moves the session or
WeCom tells it (session_status_change events, servicer messages); when it is unknown the desk
asks WeCom (kf/service_state/get) before moving.

Single-use event codes (the enter_session welcome_code, the msg_code of a move or of WeCom's own
session end) are good for one kf/send_msg_on_event within 20 s: they are used at once, never
retried past that, and a failure leaves the customer untouched.
"""

import logging
from enum import IntEnum
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.conversations.services import rating_menu_key, satisfaction_asked, satisfaction_pending
from apps.wechat import client
from apps.wechat.models import WechatAccount, WechatContact, WecomServicer
from apps.wechat.tokens import with_access_token

logger = logging.getLogger(__name__)


class KfState(IntEnum):
    NEW = 0  # 新接入待处理
    ASSISTANT = 1  # 由智能助手接待: the desk (bot and console agents)
    POOL = 2  # 待接入池排队中
    SERVICER = 3  # 由人工接待: a servicer in the WeCom app
    ENDED = 4  # 已结束/未开始


ALLOWED_MOVES: dict[KfState, frozenset[KfState]] = {
    KfState.NEW: frozenset({KfState.ASSISTANT, KfState.POOL, KfState.SERVICER, KfState.ENDED}),
    KfState.ASSISTANT: frozenset({KfState.ASSISTANT, KfState.POOL, KfState.SERVICER, KfState.ENDED}),
    KfState.POOL: frozenset({KfState.POOL, KfState.SERVICER, KfState.ENDED}),
    KfState.SERVICER: frozenset({KfState.SERVICER, KfState.ENDED}),
    KfState.ENDED: frozenset(),
}
# Where kf/send_msg is accepted.
SENDABLE = frozenset({KfState.NEW, KfState.ASSISTANT})
# Served by WeCom itself: the desk shows the conversation, mirrors it, and does not write.
IN_WECOM = frozenset({KfState.POOL, KfState.SERVICER})
RATINGS = (("5", "非常满意"), ("4", "满意"), ("3", "一般"), ("2", "不满意"), ("1", "非常不满意"))


class KfMoveRefused(Exception):
    """WeCom does not allow this move from the session's state."""


def contact_of(*, customer_id: int) -> WechatContact | None:
    return WechatContact.objects.select_related("account").filter(customer_id=customer_id).first()


def contact_for_conversation(conversation_id: int) -> WechatContact | None:
    return WechatContact.objects.select_related("account").filter(customer__conversations__pk=conversation_id).first()


def state_record(contact: WechatContact, state: KfState | None, servicer_userid: str = "") -> None:
    contact.kf_state = None if state is None else int(state)
    contact.kf_servicer_userid = servicer_userid if state == KfState.SERVICER else ""
    contact.kf_state_at = timezone.now()
    WechatContact.objects.filter(pk=contact.pk).update(
        kf_state=contact.kf_state,
        kf_servicer_userid=contact.kf_servicer_userid,
        kf_state_at=contact.kf_state_at,
        updated_at=contact.kf_state_at,
    )


def state_known(contact: WechatContact) -> KfState:
    """The session's state: the mirror, or WeCom's answer when the mirror does not know."""
    if contact.kf_state is not None:
        return KfState(contact.kf_state)
    found = with_access_token(
        account=contact.account,
        call=lambda token: client.kf_service_state_get(
            access_token=token, open_kfid=contact.open_kfid, external_userid=contact.user_id
        ),
    )
    state = KfState(found.service_state)
    state_record(contact, state, found.servicer_userid)
    return state


def state_move(contact: WechatContact, to: KfState, servicer_userid: str = "") -> str:
    """Move the session (kf/service_state/trans); returns WeCom's msg_code for it ("" if none)."""
    current = state_known(contact)
    if current == to and (to != KfState.SERVICER or servicer_userid == contact.kf_servicer_userid):
        return ""
    if to not in ALLOWED_MOVES[current]:
        raise KfMoveRefused(f"WeCom does not move a session from state {int(current)} to {int(to)}")
    try:
        code = with_access_token(
            account=contact.account,
            call=lambda token: client.kf_service_state_trans(
                access_token=token,
                open_kfid=contact.open_kfid,
                external_userid=contact.user_id,
                service_state=int(to),
                servicer_userid=servicer_userid if to == KfState.SERVICER else "",
            ),
        )
    except client.PermanentApiError:
        state_record(contact, None)  # the mirror was wrong: ask WeCom next time
        raise
    state_record(contact, to, servicer_userid)
    return code


def servicer_user_id(userid: str) -> int | None:
    """The desk user behind a WeCom servicer userid, when an admin has linked one."""
    if not userid:
        return None
    return WecomServicer.objects.filter(userid=userid).values_list("user_id", flat=True).first()


def event_reply(*, account: WechatAccount, code: str, message: dict[str, Any], what: str) -> bool:
    """Use a single-use event code once; a refusal (used, expired) leaves the customer untouched."""
    try:
        with_access_token(
            account=account,
            call=lambda token: client.kf_send_msg_on_event(access_token=token, code=code, message=message),
        )
    except client.WeChatApiError as exc:
        logger.warning("kf %s not sent: %s", what, exc)
        return False
    return True


def welcome_message(account: WechatAccount) -> dict[str, Any] | None:
    """The admin's welcome: text, or text with a menu of common questions as buttons."""
    questions = [line.strip() for line in account.kf_welcome_menu.splitlines() if line.strip()]
    if questions:
        items = [{"type": "click", "click": {"id": f"faq-{i}", "content": q[:128]}} for i, q in enumerate(questions, 1)]
        return {"msgtype": "msgmenu", "msgmenu": {"head_content": account.kf_welcome_text[:1024], "list": items[:10]}}
    if account.kf_welcome_text.strip():
        return {"msgtype": "text", "text": {"content": account.kf_welcome_text[:2048]}}
    return None


def closing_message(account: WechatAccount, *, rating: bool = False) -> dict[str, Any] | None:
    """The closing text, or a 1-5 satisfaction menu under it when the account asks for ratings or
    the desk does (``rating``: a satisfaction request for this conversation is waiting)."""
    text = account.kf_closing_text or settings.WECHAT_KF_CLOSING_TEXT
    if account.kf_closing_rating or rating:
        items = [
            {"type": "click", "click": {"id": rating_menu_key(int(score)), "content": f"{score} {label}"}}
            for score, label in RATINGS
        ]
        return {"msgtype": "msgmenu", "msgmenu": {"head_content": text[:1024], "list": items}}
    if text.strip():
        return {"msgtype": "text", "text": {"content": text[:2048]}}
    return None


def closing_send(*, account: WechatAccount, code: str, conversation_id: int | None) -> None:
    """Send the closing message on the end's single-use code (kf/send_msg is refused once the
    session has ended), with the rating menu when the desk asks, and report whether it went out."""
    rating = conversation_id is not None and satisfaction_pending(conversation_id=conversation_id)
    closing = closing_message(account, rating=rating)
    sent = (
        bool(code) and closing is not None and event_reply(account=account, code=code, message=closing, what="closing")
    )
    if rating and conversation_id is not None:
        reason = (
            ""
            if sent
            else ("WeCom handed no msg_code for the end" if not code else "WeCom refused the closing message")
        )
        satisfaction_asked(conversation_id=conversation_id, asked=sent, reason="" if sent else reason)
