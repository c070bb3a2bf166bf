"""Celery entry points of the spine. Each takes ids, calls one service, and is idempotent."""

from celery import Task, shared_task

from apps.conversations import services
from apps.conversations.pipeline import AnswerUnavailable
from apps.wechat.adapters import TransientDeliveryError

_MAX_RETRIES = 3


@shared_task(bind=True, max_retries=_MAX_RETRIES)
def process_inbound(self: Task, message_id: int) -> None:
    try:
        services.inbound_process(message_id=message_id)
    except AnswerUnavailable as exc:
        services.inbound_release(message_id=message_id, error=str(exc))
        services.inbound_fail(message_id=message_id, reason=f"answerer unavailable: {exc}")
    except Exception as exc:
        # Give the claim back so the retry (or the sweeper) can take it again.
        services.inbound_release(message_id=message_id, error=repr(exc))
        if self.request.retries >= _MAX_RETRIES:
            services.inbound_fail(message_id=message_id, reason=f"processing failed: {exc!r}")
            return
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task(bind=True, max_retries=5)
def deliver(self: Task, message_id: int) -> None:
    try:
        services.message_deliver(message_id=message_id)
    except TransientDeliveryError as exc:
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task
def sweep_stuck_messages() -> dict[str, int]:
    report = services.messages_sweep()
    return {
        "requeued_inbound": report.requeued_inbound,
        "requeued_outbound": report.requeued_outbound,
        "given_up": report.given_up,
    }
