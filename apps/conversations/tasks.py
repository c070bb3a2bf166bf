"""Celery entry points of the spine. Each takes ids, calls one service, and is idempotent."""

import logging

from celery import Task, shared_task

from apps.conversations import services
from apps.conversations.channels import TransientDeliveryError
from apps.conversations.pipeline import AnswerUnavailable
from apps.conversations.services.profile import (
    customer_profile_mark_due,
    customer_profiles_ask,
    customer_profiles_give_up,
)
from apps.core.side_effects import enqueue_on_commit

logger = logging.getLogger(__name__)

_MAX_RETRIES = 3


# Two retry budgets share Celery's one retry counter, so both are kept here, not by max_retries:
# waiting out an LLM outage is bounded by time (DESK_ANSWER_PATIENCE_SECONDS from the message's
# arrival) and counted in ``deferrals``; any other error gets _MAX_RETRIES retries of its own. A
# long outage must neither use up the errors' budget nor be cut short by it; either way the message
# ends answered or failed with the fallback reply.
@shared_task(bind=True, max_retries=None)
def process_inbound(self: Task, message_id: int, deferrals: int = 0) -> None:
    try:
        services.inbound_process(message_id=message_id)
    except AnswerUnavailable as exc:
        retry_in = services.inbound_answer_unavailable(message_id=message_id, error=exc, deferrals=deferrals)
        if retry_in is not None:
            raise self.retry(args=(message_id,), kwargs={"deferrals": deferrals + 1}, countdown=retry_in) from exc
    except Exception as exc:
        # Give the claim back so the retry (or the sweeper) can take it again.
        services.inbound_release(message_id=message_id, error=repr(exc))
        failures = self.request.retries - deferrals
        if failures >= _MAX_RETRIES:
            services.inbound_fail(message_id=message_id, reason=f"processing failed: {exc!r}")
            return
        raise self.retry(exc=exc, countdown=2 ** (failures + 1)) from exc


@shared_task(bind=True, max_retries=5)
def deliver(self: Task, message_id: int) -> None:
    try:
        services.message_deliver(message_id=message_id)
    except TransientDeliveryError as exc:
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task(bind=True, max_retries=5)
def channel_conversation_changed(self: Task, conversation_id: int, mode: str, assignee_id: int | None) -> None:
    try:
        services.channel_conversation_changed(conversation_id=conversation_id, mode=mode, assignee_id=assignee_id)
    except TransientDeliveryError as exc:
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


# A profile is a nicety: after the retries (2 s ... 64 s) the customers simply stay unlinked. Without
# ids: the debounced batch of new customers (services/profile.py); with ids: the retry of those the
# channel failed for, so a retry never drags a later batch's customers into its backoff.
@shared_task(bind=True, max_retries=6)
def customer_profiles_fetch(self: Task, customer_ids: list[int] | None = None) -> None:
    round_ = customer_profiles_ask(customer_ids=customer_ids)
    if round_.more:  # more were due than one batch takes: the next batch now, not after a window
        enqueue_on_commit(customer_profiles_fetch)
    if not round_.retry_ids:
        return
    if self.request.retries >= (self.max_retries or 0):
        customer_profiles_give_up(customer_ids=round_.retry_ids)
        logger.warning(
            "customers %s: no profile after %s tries: %s", round_.retry_ids, self.request.retries + 1, round_.error
        )
        return
    raise self.retry(args=(round_.retry_ids,), countdown=2 ** (self.request.retries + 1))


# Enqueued by releases before the batches; kept so tasks already queued at the upgrade still run.
@shared_task
def customer_profile_fetch(customer_id: int) -> None:
    customer_profile_mark_due(customer_id=customer_id)


@shared_task
def sweep_stuck_messages() -> dict[str, int]:
    report = services.messages_sweep()
    return {
        "requeued_inbound": report.requeued_inbound,
        "requeued_outbound": report.requeued_outbound,
        "given_up": report.given_up,
    }


@shared_task
def purge_media() -> int:
    from apps.conversations.media.retention import media_purge

    return media_purge()
