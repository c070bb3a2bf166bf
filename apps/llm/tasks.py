from celery import shared_task

from apps.llm import services


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def probe_endpoints() -> dict[str, bool]:
    """Periodic health check of every enabled endpoint; failures open the breaker."""
    return {h.endpoint: h.ok for h in services.endpoints_probe_all()}
