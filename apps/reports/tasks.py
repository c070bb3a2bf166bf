"""Celery entry points of the reports app. Each takes ids, calls one service, is idempotent."""

from celery import shared_task

from apps.reports import services


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1900, acks_late=True)
def run_export(export_id: int) -> None:
    # Long: a year of messages is millions of rows. Progress lands on the Export row.
    services.export_run(export_id=export_id)


@shared_task(ignore_result=True)
def send_report(period: str = "day") -> int:
    # Beat sends each period once ("day", "week", "month"): the previous full one.
    return services.report_send(period=period)


@shared_task(ignore_result=True)
def send_daily_report() -> int:
    # Kept for messages queued under the old beat entry before a deploy.
    return services.report_send(period="day")


@shared_task(ignore_result=True)
def prune_exports() -> int:
    return services.exports_prune()
