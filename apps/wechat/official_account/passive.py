"""Official Account passive replies: park a reply for the customer's callback, hand it out once.

An unverified subscription account may not call custom-send (48001); it can only answer in the
HTTP response to the customer's own callback. The adapter therefore parks the reply here
(``OaPassiveReply``, message still processing) and a held callback of that customer hands it out.

"Delivered" means "carried by a callback response we returned": the hand-out marks the message
delivered *before* the response is written, under its row lock (``deferred_lock`` skips rows
another transaction holds, ``handed_out_at IS NULL`` is re-checked), so a reply is handed out by
at most one response. A hand-out commits only within the try's wait, leaving the rest of WeChat's
5 s to the response (hold.py); if the response still reaches WeChat too late, the reply is lost
rather than sent twice.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.conversations.channels import PermanentDeliveryError
from apps.conversations.models import Message
from apps.conversations.services import DeferredMessage, deferred_delivered, deferred_lock
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.models import OaPassiveReply, WechatAccount, WechatContact
from apps.wechat.official_account.wakeup import ready_publish
from apps.wechat.planner import reply_plan

logger = logging.getLogger(__name__)

Status = Message.Status
# Parked replies considered per hand-out; one WeChat message rarely holds more than two anyway.
_HAND_OUT_LIMIT = 10
_SEPARATOR = "\n\n"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def passive_text(body: str) -> str:
    """What one passive message carries of a reply: WeChat takes one text per response."""
    segments = reply_plan(
        text=body,
        max_bytes=settings.WECHAT_TEXT_MAX_BYTES,
        budget=1,
        notice=settings.WECHAT_TRUNCATION_NOTICE,
    )
    return segments[0] if segments else ""


def account_replies_passively(account: WechatAccount) -> bool:
    """Whether callbacks of this account carry the replies. ``account`` may be the callback's cached
    copy: an automatic account that has not switched yet is re-read, since a worker may have just
    switched it (custom-send answered 48001)."""
    if account.replies_passively or account.reply_mode != WechatAccount.ReplyMode.AUTO:
        return account.replies_passively
    return WechatAccount.objects.filter(pk=account.pk, passive_since__isnull=False).exists()


def account_passive_switch(*, account: WechatAccount, reason: str) -> bool:
    """An automatic account found custom-send refused: it replies passively from now on (once)."""
    now = timezone.now()
    with transaction.atomic():
        switched = WechatAccount.objects.filter(
            pk=account.pk, reply_mode=WechatAccount.ReplyMode.AUTO, passive_since__isnull=True
        ).update(passive_since=now, passive_reason=reason[:200], updated_at=now)
        if switched:
            audit_record(
                kind=AuditLog.Kind.SYSTEM,
                event=AuditEvent.WECHAT_OA_PASSIVE,
                channel=OFFICIAL_ACCOUNT,
                details={"app_id": account.app_id, "account": account.name, "reason": reason[:200]},
            )
    if switched:
        logger.warning("Official Account %s switched to passive replies: %s", account.app_id, reason[:200])
    account.passive_since, account.passive_reason = account.passive_since or now, account.passive_reason or reason
    return bool(switched)


def passive_reply_park(*, contact: WechatContact, message_id: int) -> datetime:
    """Park an outbound message for the customer's callbacks; returns until when it may wait.

    Runs inside ``message_deliver``'s transaction, which holds the message's row lock: a callback
    sees the parked row only after that commits, and is woken then.
    """
    hold = timedelta(hours=settings.WECHAT_OA_PASSIVE_HOLD_HOURS)
    reply_to_id = Message.objects.filter(pk=message_id).values_list("reply_to_id", flat=True).first()
    parked, created = OaPassiveReply.objects.get_or_create(
        message_id=message_id,
        defaults={"account_id": contact.account_id, "openid": contact.user_id, "reply_to_id": reply_to_id},
    )
    if not created and parked.ready_at + hold <= timezone.now():
        raise PermanentDeliveryError(
            f"not delivered: the customer sent no message to reply to within {settings.WECHAT_OA_PASSIVE_HOLD_HOURS} h"
        )
    account_id, openid = contact.account_id, contact.user_id
    transaction.on_commit(lambda: ready_publish(account_id=account_id, openid=openid))
    return parked.ready_at + hold


def callback_try(*, account_id: int, callback_key: str) -> int:
    """Which of WeChat's tries of this callback this is (1, 2, 3: same MsgId each time)."""
    key = f"wechat:oa:tries:{account_id}:{callback_key}"
    ttl = int(settings.WECHAT_OA_CALLBACK_TIMEOUT_SECONDS * settings.WECHAT_OA_CALLBACK_TRIES) + 60
    try:
        cache.add(key, 0, timeout=ttl)
        return int(cache.incr(key))
    except (RedisError, ValueError):
        # Counted as a first try: held, never given the holding text early.
        logger.warning("callback try count unavailable for %s", callback_key)
        return 1


def _waiting(*, account_id: int, openid: str) -> QuerySet[OaPassiveReply]:
    # A parked row whose message is no longer processing (failed by the sweeper) is not waiting.
    return OaPassiveReply.objects.filter(
        account_id=account_id, openid=openid, handed_out_at__isnull=True, message__status=Status.PROCESSING
    )


@dataclass(frozen=True)
class PassiveState:
    own_ready: bool  # a reply to this callback's message is parked (for an event: any reply)
    own_done: bool  # this message's replies all went out (or failed) already: a late retry
    nothing_coming: bool  # no reply will come for this message (rate-limited without one)


def passive_state(*, account_id: int, openid: str, inbound_id: int | None) -> PassiveState:
    waiting = list(_waiting(account_id=account_id, openid=openid).values_list("reply_to_id", flat=True))
    if inbound_id is None:
        return PassiveState(own_ready=bool(waiting), own_done=False, nothing_coming=False)
    if inbound_id in waiting:
        return PassiveState(own_ready=True, own_done=False, nothing_coming=False)
    # The message and its replies in one query: this runs on every wake-up of a held callback.
    rows = list(
        Message.objects.filter(
            Q(pk=inbound_id) | Q(reply_to_id=inbound_id, direction=Message.Direction.OUTBOUND)
        ).values_list("pk", "status")
    )
    inbound_status = next((status for pk, status in rows if pk == inbound_id), "")
    replies = [status for pk, status in rows if pk != inbound_id]
    rate_limited = not replies and inbound_status == Status.RATE_LIMITED
    return PassiveState(
        own_ready=False,
        own_done=bool(replies) and Status.PROCESSING not in replies,
        nothing_coming=rate_limited,
    )


def passive_replies_hand_out(*, account_id: int, openid: str, callback_key: str, cutoff: float | None = None) -> str:
    """Mark the customer's parked replies delivered, oldest first, as many as fit in one message,
    and return their text ("" if none could be taken). The caller must return it in the response.

    ``cutoff`` (time.monotonic()): past it nothing is taken. Checked just before the marking, so
    time spent queueing for a thread or a lock under load does not eat WeChat's margin unseen.
    """
    with transaction.atomic():
        parked = list(
            _waiting(account_id=account_id, openid=openid)
            .order_by("ready_at", "pk")
            .values_list("message_id", flat=True)[:_HAND_OUT_LIMIT]
        )
        if not parked:
            return ""
        locked = deferred_lock(message_ids=parked)
        taken: list[DeferredMessage] = []
        parts: list[str] = []
        for message_id in parked:
            message = locked.get(message_id)
            if message is None:
                continue  # another callback is handing it out right now
            text = passive_text(message.body)
            if parts and text and _nbytes(_SEPARATOR.join([*parts, text])) > settings.WECHAT_TEXT_MAX_BYTES:
                break  # the rest waits for the customer's next message, in order
            taken.append(message)
            if text:
                parts.append(text)
        if not taken or (cutoff is not None and time.monotonic() > cutoff):
            return ""
        now = timezone.now()
        OaPassiveReply.objects.filter(
            message_id__in=[message.message_id for message in taken], handed_out_at__isnull=True
        ).update(handed_out_at=now, handed_out_in=callback_key[:100])
        for message in taken:
            deferred_delivered(message=message, at=now)
    return _SEPARATOR.join(parts)
