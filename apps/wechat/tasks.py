"""Celery entry points of the WeChat channels. Each takes ids, calls one service, and is idempotent."""

from celery import Task, shared_task

from apps.wechat.client import TransientApiError
from apps.wechat.kf import services as kf_services


@shared_task(bind=True, max_retries=5)
def kf_sync(self: Task, cursor_id: int) -> dict[str, int]:
    try:
        report = kf_services.kf_sync(cursor_id=cursor_id)
    except TransientApiError as exc:
        kf_services.kf_sync_failed(cursor_id=cursor_id, error=str(exc))
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return {"pages": report.pages, "fetched": report.fetched, "stored": report.stored}


@shared_task
def kf_sync_sweep() -> int:
    return kf_services.kf_sync_sweep()
