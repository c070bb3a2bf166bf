"""Manager reports: where exports are written and the daily e-mailed report."""

from pathlib import Path

from celery.schedules import crontab

from project.settings.env import env_bool, env_int, env_list, env_str
from project.settings.tasks import CELERY_BEAT_SCHEDULE

_BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Export files hold customer messages: a private directory, served only through the
# permission-checked download view, never under STATIC/MEDIA. Shared storage (a volume every
# web and worker replica mounts) when the desk runs on more than one box.
REPORTS_EXPORT_ROOT = env_str("REPORTS_EXPORT_ROOT", str(_BASE_DIR / "var" / "exports"))
# Rows between two progress writes of a running export (one UPDATE each).
REPORTS_EXPORT_PROGRESS_EVERY = env_int("REPORTS_EXPORT_PROGRESS_EVERY", 20_000)
# Finished exports are deleted (row and file) after this many days.
REPORTS_EXPORT_KEEP_DAYS = env_int("REPORTS_EXPORT_KEEP_DAYS", 7)

# The daily report goes to every active user holding reports.manager, plus these addresses.
REPORTS_EMAIL_EXTRA_RECIPIENTS = env_list("REPORTS_EMAIL_EXTRA_RECIPIENTS", [])
# Local hour of all three e-mailed reports: the daily one (yesterday), the weekly one on Mondays
# (last Monday-Sunday) and the monthly one on the 1st (last month); each can be turned off.
REPORTS_DAILY_HOUR = env_int("REPORTS_DAILY_HOUR", 8)
REPORTS_DAILY_ENABLED = env_bool("REPORTS_DAILY_ENABLED", True)
REPORTS_WEEKLY_ENABLED = env_bool("REPORTS_WEEKLY_ENABLED", True)
REPORTS_MONTHLY_ENABLED = env_bool("REPORTS_MONTHLY_ENABLED", True)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "desk@localhost")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10

_REPORT_SCHEDULES = {
    "day": (REPORTS_DAILY_ENABLED, crontab(hour=REPORTS_DAILY_HOUR, minute=0)),
    "week": (REPORTS_WEEKLY_ENABLED, crontab(hour=REPORTS_DAILY_HOUR, minute=0, day_of_week=1)),
    "month": (REPORTS_MONTHLY_ENABLED, crontab(hour=REPORTS_DAILY_HOUR, minute=0, day_of_month=1)),
}
_REPORT_ENTRIES = {"day": "reports-daily-email", "week": "reports-weekly-email", "month": "reports-monthly-email"}
for _period, (_enabled, _schedule) in _REPORT_SCHEDULES.items():
    if _enabled:
        CELERY_BEAT_SCHEDULE[_REPORT_ENTRIES[_period]] = {
            "task": "apps.reports.tasks.send_report",
            "schedule": _schedule,
            "args": (_period,),
            "options": {"expires": 3600},
        }
CELERY_BEAT_SCHEDULE["reports-exports-prune"] = {
    "task": "apps.reports.tasks.prune_exports",
    "schedule": crontab(hour=3, minute=30),
    "options": {"expires": 3600},
}
