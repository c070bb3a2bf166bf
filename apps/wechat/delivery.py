"""Delivering one outbound text or file over a WeChat channel within WeChat's rules.

The spine calls an adapter once per outbound message, inside a transaction that rolls back
when the adapter raises a transient error. Segments already accepted by WeChat must not be
sent again on the retry, so the plan and its progress live in Redis (which a rollback does
not undo); the contact's counters are written in Postgres when the attempt ends.
"""

import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache as memoize
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
from apps.core.redis import cache_redis
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
# A channel's last word before anything is planned or sent, under the customer's lock, with the
# contact just read and whether the reply is parked for a passive reply: it may raise
# DeliveryDeferred or PermanentDeliveryError to stop, and nothing of the delivery is written then.
Gate = Callable[[WechatContact, bool], None]


@dataclass(frozen=True)
class SendMedia:
    """How a channel puts a file out: upload it (-> media_id), then send that media_id."""

    upload: Callable[[WechatContact, OutboundMedia], str]
    send: Callable[[WechatContact, OutboundMedia, str], None]


# Local stand-ins for WeChat's own codes when we refuse before calling: window closed / budget used.
WINDOW_CLOSED = 45015
BUDGET_USED = 45047
_LOCK_NAMESPACE = 0x7765  # "we": keeps our advisory locks apart from any other user's
# Progress is only read while the message is still processing, and delivery gives up within minutes
# (the task's retries, then the sweeper's DESK_MAX_ATTEMPTS); nothing deletes it, so this TTL is
# what bounds the keys (millions a day at 3 days).
_PROGRESS_TTL = 6 * 3600
# Temporary media lives 3 days at WeChat; the desk reuses a media_id for a little less.
_UPLOAD_TTL = 2 * 24 * 3600


class _Progress(TypedDict):
    segments: list[str]
    done: int


def _progress_key(message_id: int) -> str:
    return f"wechat:delivery:{message_id}"


def _progress_get(key: str) -> _Progress | None:
    raw = cache_redis().get(key)
    if raw is None:
        return None
    data = json.loads(raw)
    return {"segments": list(data["segments"]), "done": int(data["done"])}


def _progress_set(key: str, progress: _Progress) -> None:
    cache_redis().set(key, json.dumps(progress, ensure_ascii=False), ex=_PROGRESS_TTL)


def _lock_customer(channel: str, external_id: str) -> None:
    """Serialises sends to one customer without a row lock, so inbound webhooks never wait on HTTP.

    Keyed on the customer's natural key, which every sender (text or file, OA or kf) has before
    reading anything: the contact is then read once, after the lock. A collision of the 32-bit
    hash only makes two customers' sends wait for each other."""
    key = zlib.crc32(f"{channel}:{external_id}".encode())
    with connection.cursor() as cursor:
        # pg_advisory_xact_lock(int, int) takes signed 32-bit keys.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, key - 2**32 if key >= 2**31 else key])


@contextmanager
def _transaction() -> Iterator[None]:
    """The caller's transaction (message_deliver's, which holds the message's row lock), without a
    savepoint of its own: two statements fewer per send. Nothing here is written before the last
    step, so an exception leaves nothing of ours behind, and one that escapes the caller rolls its
    transaction back anyway; one the caller handles (a channel's gate parking or refusing the
    reply, a custom-send the adapter turns into a passive reply) must not doom the caller's
    transaction, which atomic(savepoint=False) would. Alone (no caller's transaction), its own."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        yield


def _refusal(contact: WechatContact) -> int | None:
    now = timezone.now()
    opened = contact.window_opened_at
    if opened is None or now - opened > timedelta(hours=settings.WECHAT_REPLY_WINDOW_HOURS):
        return WINDOW_CLOSED
    if contact.quota_error_at is not None and contact.quota_error_at >= opened:
        # WeChat already said no in this window; asking again cannot succeed.
        return contact.quota_error_code or BUDGET_USED
    return None


@memoize
def _record_sent_sql() -> str:
    table = WechatContact._meta.db_table
    return f"UPDATE {table} SET sent_in_window = sent_in_window + %s, last_sent_at = %s, updated_at = %s WHERE id = %s"  # noqa: S608


def _record_sent(contact: WechatContact, count: int) -> None:
    if count:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_record_sent_sql(), [count, now, now, contact.pk])


def _record_quota_error(contact: WechatContact, *, errcode: int, sent: int) -> None:
    now = timezone.now()
    WechatContact.objects.filter(pk=contact.pk).update(
        sent_in_window=F("sent_in_window") + sent,
        quota_error_code=errcode,
        quota_error_at=now,
        quota_errors=F("quota_errors") + 1,
        updated_at=now,
    )


def text_deliver(*, outbound: OutboundText, send: SendSegment, gate: Gate | None = None) -> None:
    """Plan and send ``outbound`` as segments, resuming after the last one WeChat accepted."""

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
        gate=gate,
    )


def media_deliver(*, outbound: OutboundMedia, send: SendMedia, gate: Gate | None = None) -> None:
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

    _deliver(outbound=outbound, plan=lambda budget: [outbound.kind] if budget > 0 else [], send=send_once, gate=gate)


def _deliver(*, outbound: Outbound, plan: Callable[[int], list[str]], send: _SendOne, gate: Gate | None = None) -> None:
    key = _progress_key(outbound.message_id)
    failure: PermanentDeliveryError | None = None
    with _transaction():
        _lock_customer(outbound.channel, outbound.customer_external_id)
        # After the lock, in a statement of its own: one started before the lock was granted would
        # read the counters as they were before the previous sender committed.
        found = selectors.contact_for_reply(
            channel=outbound.channel, external_id=outbound.customer_external_id, message_id=outbound.message_id
        )
        if found is None:
            raise PermanentDeliveryError("this customer has no WeChat contact to reply to")
        contact = found.contact
        if gate is not None:
            gate(contact, found.parked)
        # Every attempt counts itself (committed) before it sends, and the message's row lock lets
        # one attempt run at a time: at 1, no attempt before this one can have sent anything.
        progress = None if found.attempts == 1 else _progress_get(key)
        refusal = _refusal(contact)
        if refusal is None and progress is None:
            segments = plan(settings.WECHAT_REPLY_BUDGET - contact.sent_in_window)
            if not segments:
                refusal = BUDGET_USED
            progress = {"segments": segments, "done": 0}
            if len(segments) > 1:
                # A retry must resend this plan, not a new one cut to a smaller budget. One segment
                # needs no plan kept: a crash before its send leaves nothing to resume.
                _progress_set(key, progress)
        if refusal is not None or progress is None:
            _record_quota_error(contact, errcode=refusal or BUDGET_USED, sent=0)
            failure = PermanentDeliveryError(
                f"not sent: WeChat's reply quota does not allow it ({refusal})",
                code=str(refusal or BUDGET_USED),
                hand_over=True,
            )
        else:
            failure = _send_remaining(contact, progress, key, send)
    # No DEL of the progress: it is read only while the message is processing, and a DEL before
    # the caller's COMMIT would let a crash between the two send everything again.
    if failure is not None:
        raise failure


def _send_remaining(
    contact: WechatContact, progress: _Progress, key: str, send: _SendOne
) -> PermanentDeliveryError | None:
    segments = progress["segments"]
    try:
        for index in range(progress["done"], len(segments)):
            send(contact, segments[index], index)
            # What stops a resend after a crash between this send and the caller's COMMIT.
            progress["done"] = index + 1
            if progress["done"] < len(segments):
                _progress_set(key, progress)
            else:
                # All sent: a retry needs only their count, so the texts do not stay for the TTL.
                _progress_set(key, {"segments": [""] * len(segments), "done": len(segments)})
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
