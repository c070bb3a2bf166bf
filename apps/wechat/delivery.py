"""Delivering one outbound text or file over a WeChat channel within WeChat's rules.

The spine calls an adapter once per outbound message, inside a transaction that rolls back
when the adapter raises a transient error. Segments already accepted by WeChat must not be
sent again on the retry, so the plan and its progress live in Redis (which a rollback does
not undo); the contact's counters are written in Postgres when the attempt ends.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.conversations.channels import (
    Outbound,
    OutboundMedia,
    OutboundText,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from apps.wechat import selectors
from apps.wechat.client import (
    OUTCOME_GIVE_UP,
    OUTCOME_HAND_OVER,
    PermanentApiError,
    QuotaApiError,
    TransientApiError,
    errcode_outcome,
)
from apps.wechat.models import WechatContact
from apps.wechat.planner import reply_plan

# (contact, outbound, segment text, segment index)
SendSegment = Callable[[WechatContact, OutboundText, str, int], None]
_SendOne = Callable[[WechatContact, str, int], None]


@dataclass(frozen=True)
class SendMedia:
    """How a channel puts a file out: upload it (-> media_id), then send that media_id."""

    upload: Callable[[WechatContact, OutboundMedia], str]
    send: Callable[[WechatContact, OutboundMedia, str], None]


# Local stand-ins for WeChat's own codes when we refuse before calling: window closed / budget used.
WINDOW_CLOSED = 45015
BUDGET_USED = 45047
_LOCK_NAMESPACE = 0x7765  # "we": keeps our advisory locks apart from any other user's
_PROGRESS_TTL = 3 * 24 * 3600
# Temporary media lives 3 days at WeChat; the desk reuses a media_id for a little less.
_UPLOAD_TTL = 2 * 24 * 3600


class _Progress(TypedDict):
    segments: list[str]
    done: int


def _progress_key(message_id: int) -> str:
    return f"wechat:delivery:{message_id}"


def _lock_contact(contact_id: int) -> None:
    # Serialises sends to one customer without a row lock, so inbound webhooks never wait on HTTP.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, contact_id % 2**31])


def _refusal(contact: WechatContact) -> int | None:
    now = timezone.now()
    opened = contact.window_opened_at
    if opened is None or now - opened > timedelta(hours=settings.WECHAT_REPLY_WINDOW_HOURS):
        return WINDOW_CLOSED
    if contact.quota_error_at is not None and contact.quota_error_at >= opened:
        # WeChat already said no in this window; asking again cannot succeed.
        return contact.quota_error_code or BUDGET_USED
    return None


def _record_sent(contact: WechatContact, count: int) -> None:
    if count:
        WechatContact.objects.filter(pk=contact.pk).update(
            sent_in_window=F("sent_in_window") + count, last_sent_at=timezone.now(), updated_at=timezone.now()
        )


def _record_quota_error(contact: WechatContact, *, errcode: int, sent: int) -> None:
    now = timezone.now()
    WechatContact.objects.filter(pk=contact.pk).update(
        sent_in_window=F("sent_in_window") + sent,
        quota_error_code=errcode,
        quota_error_at=now,
        quota_errors=F("quota_errors") + 1,
        updated_at=now,
    )


def text_deliver(*, outbound: OutboundText, send: SendSegment, contact: WechatContact | None = None) -> None:
    """Plan and send ``outbound`` as segments, resuming after the last one WeChat accepted.
    ``contact``: the customer's, when the caller has read it (with its account) already."""

    def plan(budget: int) -> list[str]:
        return reply_plan(
            text=outbound.text,
            max_bytes=settings.WECHAT_TEXT_MAX_BYTES,
            budget=budget,
            notice=settings.WECHAT_TRUNCATION_NOTICE,
        )

    _deliver(
        outbound=outbound,
        plan=plan,
        send=lambda contact, text, index: send(contact, outbound, text, index),
        contact=contact,
    )


def media_deliver(*, outbound: OutboundMedia, send: SendMedia) -> None:
    """Send one image, voice note, video or file: one message of the window's budget, like a segment.

    The upload's media_id is kept (temporary media lives 3 days), so a retry after a failed send
    does not upload the file again.
    """

    def send_once(contact: WechatContact, _segment: str, _index: int) -> None:
        key = f"wechat:media-upload:{contact.account_id}:{outbound.attachment_id}"
        media_id = cache.get(key)
        if not media_id:
            media_id = send.upload(contact, outbound)
            cache.set(key, media_id, _UPLOAD_TTL)
        send.send(contact, outbound, media_id)

    _deliver(outbound=outbound, plan=lambda budget: [outbound.kind] if budget > 0 else [], send=send_once)


# What another sender may have changed while this one waited for the contact's lock.
_COUNTERS = ["window_opened_at", "sent_in_window", "quota_error_at", "quota_error_code"]


def _deliver(
    *, outbound: Outbound, plan: Callable[[int], list[str]], send: _SendOne, contact: WechatContact | None = None
) -> None:
    if contact is None:
        contact = selectors.contact_for_customer(channel=outbound.channel, external_id=outbound.customer_external_id)
    if contact is None:
        raise PermanentDeliveryError("this customer has no WeChat contact to reply to")
    key = _progress_key(outbound.message_id)
    failure: PermanentDeliveryError | None = None
    with transaction.atomic():
        _lock_contact(contact.pk)
        # Only the counters: a full refresh drops the cached account, and the send re-reads it.
        contact.refresh_from_db(fields=_COUNTERS)
        progress: _Progress | None = cache.get(key)
        refusal = _refusal(contact)
        if refusal is None and progress is None:
            segments = plan(settings.WECHAT_REPLY_BUDGET - contact.sent_in_window)
            if not segments:
                refusal = BUDGET_USED
            progress = {"segments": segments, "done": 0}
            cache.set(key, progress, _PROGRESS_TTL)
        if refusal is not None or progress is None:
            _record_quota_error(contact, errcode=refusal or BUDGET_USED, sent=0)
            failure = PermanentDeliveryError(
                f"not sent: WeChat's reply quota does not allow it ({refusal})",
                code=str(refusal or BUDGET_USED),
                hand_over=True,
            )
        else:
            failure = _send_remaining(contact, progress, key, send)
    if failure is not None:
        cache.delete(key)
        raise failure
    cache.delete(key)


def _send_remaining(
    contact: WechatContact, progress: _Progress, key: str, send: _SendOne
) -> PermanentDeliveryError | None:
    segments = progress["segments"]
    try:
        for index in range(progress["done"], len(segments)):
            send(contact, segments[index], index)
            progress["done"] = index + 1
            cache.set(key, progress, _PROGRESS_TTL)
    except QuotaApiError as exc:
        _record_quota_error(contact, errcode=exc.errcode or BUDGET_USED, sent=progress["done"])
        return PermanentDeliveryError(str(exc), code=str(exc.errcode or BUDGET_USED), hand_over=True)
    except PermanentApiError as exc:
        _record_sent(contact, progress["done"])
        outcome = errcode_outcome(exc.errcode) if exc.errcode is not None else OUTCOME_GIVE_UP
        return PermanentDeliveryError(str(exc), code=str(exc.errcode or ""), hand_over=outcome == OUTCOME_HAND_OVER)
    except TransientApiError as exc:
        raise TransientDeliveryError(str(exc)) from exc
    _record_sent(contact, len(segments))
    return None
