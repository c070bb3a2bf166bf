"""Asking a channel who its new customers are: a display name, and WeChat's unionid.

A channel message rarely names its sender (WeChat gives only an OpenID or external_userid), and the
same person on an Official Account and a WeCom 客服 has two of those; WeChat's unionid is what they
share. So when a customer is first seen, the spine asks the channel's adapter: never in the request
that received the message (an Official Account waits 5 s for its answer), never for channels that
have nothing to say (neither profile hook overridden: the customer is not even marked).

In batches, not one task per customer: a new customer is only marked due (``profile_due_at``) in
the transaction that creates them, and at most one ``customer_profiles_fetch`` is enqueued per
_BATCH_WINDOW_S (a Redis SET NX), which asks ``ChannelAdapter.customer_profiles`` about up to
_BATCH_SIZE due customers of a channel at once (an Official Account: one user/info/batchget instead
of 100 user/info calls). The profile is a nicety, so the few seconds of delay cost nothing.

The mark is the only state: a batch leases the rows it picks (due again in _LEASE, FOR UPDATE SKIP
LOCKED against a concurrent batch) and clears the mark once the channel answered for a customer, so
a worker lost mid-batch leaves them due for a later batch, and asking twice is harmless (a name
only fills an empty one, linking a unionid is idempotent).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from django.db import transaction

from apps.conversations.channels import (
    CustomerProfile,
    PermanentDeliveryError,
    ProfileAnswer,
    TransientDeliveryError,
    channel_kinds,
    get_adapter,
    overrides_hook,
)
from apps.conversations.models import Customer
from apps.conversations.signals import customer_identified
from apps.core import clock
from apps.core.redis import cache_redis
from apps.core.side_effects import enqueue_on_commit

logger = logging.getLogger(__name__)

_NAME_MAX = Customer._meta.get_field("display_name").max_length or 128
# WeChat's batch APIs take at most 100 ids (cgi-bin/user/info/batchget, kf/customer/batchget).
_BATCH_SIZE = 100
# New customers within this many seconds share one batch: the SET NX key's TTL and the countdown.
_BATCH_WINDOW_S = 2
BATCH_KEY = "profile:batch:pending"
# Longer than a batch's whole retry chain (2 + 4 + ... + 64 s), so no other batch picks its rows.
_LEASE = timedelta(minutes=5)
# The hooks that make a channel worth asking (the batch one defaults to looping over the single one).
_HOOKS = ("customer_profile", "customer_profiles")


@dataclass
class ProfileRound:
    """What one batch left: customers to ask again after a backoff, and whether more are due."""

    retry_ids: list[int] = field(default_factory=list)
    error: str = ""  # why the channel failed for retry_ids, for the log
    more: bool = False


def _asks_profiles(channel: str) -> bool:
    return any(overrides_hook(channel, hook) for hook in _HOOKS)


def customer_profile_due_at(*, channel: str) -> datetime | None:
    """The mark a new customer of ``channel`` is inserted with (None: the channel has nothing to say),
    so that customer_profile_request needs no UPDATE after the insert."""
    return clock.now() if _asks_profiles(channel) else None


def customer_profile_request(*, customer: Customer) -> None:
    """A customer row was just created: mark them due, and schedule a batch once this commits."""
    if customer.profile_due_at is None:  # not already inserted with the mark (customer_profile_due_at)
        if not _asks_profiles(customer.channel):
            return
        customer.profile_due_at = clock.now()
        Customer.objects.filter(pk=customer.pk).update(profile_due_at=customer.profile_due_at)
    transaction.on_commit(customer_profiles_schedule)


def customer_profiles_schedule() -> None:
    """Enqueue a batch unless one is already waiting: at most one per _BATCH_WINDOW_S.

    The batch deletes the key before it picks, so a customer whose mark committed while the key was
    set is picked by the batch that set it; the TTL only bounds the wait when that task was lost."""
    from apps.conversations.tasks import customer_profiles_fetch

    try:
        first = bool(cache_redis().set(BATCH_KEY, 1, nx=True, ex=_BATCH_WINDOW_S))
    except redis.RedisError:
        logger.warning("profile batch: Redis unavailable; enqueueing a batch without the debounce")
        first = True
    if first:
        enqueue_on_commit(customer_profiles_fetch, countdown=_BATCH_WINDOW_S)


def _schedule_released() -> None:
    try:
        cache_redis().delete(BATCH_KEY)
    except redis.RedisError:
        logger.warning("profile batch: Redis unavailable; the debounce key expires by itself")


def _claim(*, channel: str | None, customer_ids: Sequence[int] | None) -> list[tuple[int, str, str]]:
    """Lease up to _BATCH_SIZE due customers: (id, channel, external id), due again in _LEASE."""
    now = clock.now()
    rows = Customer.objects.select_for_update(skip_locked=True).filter(profile_due_at__isnull=False)
    if customer_ids is not None:
        rows = rows.filter(pk__in=customer_ids)  # a retry: still leased, so not by due time
    else:
        rows = rows.filter(channel=channel, profile_due_at__lte=now)
    with transaction.atomic():
        claimed = list(rows.order_by("profile_due_at", "pk").values_list("pk", "channel", "external_id")[:_BATCH_SIZE])
        if claimed:
            Customer.objects.filter(pk__in=[pk for pk, _, _ in claimed]).update(profile_due_at=now + _LEASE)
    return claimed


def customer_profiles_ask(*, customer_ids: Sequence[int] | None = None) -> ProfileRound:
    """Ask the channels about due customers and keep what they say. Idempotent.

    Without ids: up to _BATCH_SIZE due customers of each profile channel (a new customer's batch).
    With ids: those of them still due (a retry of the ones a channel failed for).
    """
    round_ = ProfileRound()
    if customer_ids is None:
        _schedule_released()
        for channel in filter(_asks_profiles, channel_kinds()):
            claimed = _claim(channel=channel, customer_ids=None)
            round_.more = round_.more or len(claimed) == _BATCH_SIZE
            _ask(channel, claimed, round_)
        return round_
    claimed = _claim(channel=None, customer_ids=customer_ids)
    for channel in sorted({c for _, c, _ in claimed}):
        _ask(channel, [row for row in claimed if row[1] == channel], round_)
    return round_


def _ask(channel: str, claimed: list[tuple[int, str, str]], round_: ProfileRound) -> None:
    if not claimed:
        return
    ids = {external_id: pk for pk, _, external_id in claimed}
    try:
        answers = get_adapter(channel).customer_profiles(external_ids=list(ids))
    except TransientDeliveryError as exc:
        answers = dict.fromkeys(ids, exc)
    except PermanentDeliveryError as exc:
        answers = dict.fromkeys(ids, exc)
    profiles: dict[int, CustomerProfile] = {}
    for external_id, pk in ids.items():
        answer: ProfileAnswer = answers.get(external_id)
        if isinstance(answer, TransientDeliveryError):
            round_.retry_ids.append(pk)
            round_.error = str(answer)
        elif isinstance(answer, CustomerProfile):
            profiles[pk] = answer
        elif answer is not None:  # permanent: unknown user, not bound to an Open Platform account...
            logger.warning("customer %s: the %s channel gives no profile: %s", pk, channel, answer)
    _profiles_keep(profiles)
    # Settled (a profile, nothing to say, or refused for good): not asked again.
    retrying = set(round_.retry_ids)
    Customer.objects.filter(pk__in=[pk for pk in ids.values() if pk not in retrying]).update(profile_due_at=None)


def _profiles_keep(profiles: dict[int, CustomerProfile]) -> None:
    """Fill empty names (one UPDATE per named customer), then announce the unionids."""
    names = {pk: name for pk, p in profiles.items() if (name := p.display_name.strip()[:_NAME_MAX])}
    if names:
        with transaction.atomic():
            # A name a message gave meanwhile (simulator, API, a later channel update) wins.
            for customer in Customer.objects.select_for_update().filter(pk__in=names, display_name="").order_by("pk"):
                customer.display_name = names[customer.pk]
                customer.save(update_fields=["display_name", "search_index", "updated_at"])
    for pk, profile in profiles.items():
        unionid = profile.unionid.strip()
        if not unionid:
            continue
        try:
            customer_identified.send(sender=Customer, customer_id=pk, unionid=unionid)
        except Exception:
            # One customer's failed link must not cost the rest of the batch theirs.
            logger.exception("customer %s: linking unionid failed", pk)


def customer_profiles_give_up(*, customer_ids: Sequence[int]) -> None:
    """The channel kept failing for these: they stay without a profile (it is a nicety)."""
    Customer.objects.filter(pk__in=customer_ids).update(profile_due_at=None)


def customer_profile_mark_due(*, customer_id: int) -> None:
    """Mark a known customer due and schedule a batch (a task enqueued by a release before batches)."""
    if Customer.objects.filter(pk=customer_id, profile_due_at__isnull=True).update(profile_due_at=clock.now()):
        transaction.on_commit(customer_profiles_schedule)
