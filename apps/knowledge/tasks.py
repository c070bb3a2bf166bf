"""Celery entry points of the knowledge base: take ids, call one service, idempotent."""

from celery import shared_task

from apps.knowledge import services


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180)
def embed_entry(entry_id: int) -> bool:
    return services.entry_embed(entry_id=entry_id)


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1900)
def embed_stale_entries() -> int:
    return services.entries_embed_stale()
