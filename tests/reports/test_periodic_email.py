"""Weekly and monthly reports beside the daily one: one task with a period, the previous full
period, the lifecycle figures in the mail, a beat entry each that a setting turns off."""

import importlib
from datetime import date
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from apps.reports import services, tasks
from project.settings import reports as report_settings
from tests.reports.scripted_day import play


@pytest.mark.parametrize(
    ("period", "today", "first", "last"),
    [
        ("day", date(2026, 3, 11), date(2026, 3, 10), date(2026, 3, 10)),
        ("week", date(2026, 3, 16), date(2026, 3, 9), date(2026, 3, 15)),  # a Monday: last week
        ("week", date(2026, 3, 18), date(2026, 3, 9), date(2026, 3, 15)),  # a Wednesday: still last week
        ("month", date(2026, 4, 1), date(2026, 3, 1), date(2026, 3, 31)),
        ("month", date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_each_period_is_the_last_full_one(period: str, today: date, first: date, last: date) -> None:
    r = services.report_period(period=period, today=today)
    assert (r.date_from, r.date_to) == (first, last)


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="fortnight"):
        services.report_period(period="fortnight", today=date(2026, 3, 1))


@pytest.mark.django_db
def test_the_weekly_task_mails_last_mondays_week_with_the_lifecycle_figures(
    day: ModuleType, manager: User, mailoutbox: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    play(day)  # Tuesday 2026-03-10
    monkeypatch.setattr(services.timezone, "localdate", lambda: date(2026, 3, 18))
    with translation.override("en"):
        assert tasks.send_report.run("week") == 1

    (mail,) = mailoutbox
    assert mail.subject == "Weekly service desk report for 2026-03-09 – 2026-03-15"
    body = mail.body
    # Overall: 6 closed, half by the bot; medians 260 s, 270 s, 120 s; CSAT 4.0; SLA 2 of 3.
    assert (
        "- all: closed 6, bot containment 50.0%, first response (median) 4 min 20 s, resolution (median)"
        " 4 min 30 s, queue wait (median) 2 min 0 s, CSAT (mean) 4.0, SLA compliance 66.7%"
    ) in body
    assert "- bob: closed 1, bot containment 0.0%, first response (median) 6 min 40 s" in body
    assert "- 售前: closed 2," in body
    html = mail.alternatives[0][0]
    assert 'id="lifecycle-agents"' in html
    assert "20 min 0 s" in html


@pytest.mark.django_db
def test_a_week_without_traffic_is_mailed_with_empty_tables(manager: User, mailoutbox: list[Any]) -> None:
    with translation.override("en"):
        assert services.report_send(period="month", today=date(2026, 1, 1)) == 1
    (mail,) = mailoutbox
    assert "2025-12-01 – 2025-12-31" in mail.subject
    assert "No conversations in this range." in mail.alternatives[0][0]


def test_weekly_and_monthly_beat_entries_and_their_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = report_settings.CELERY_BEAT_SCHEDULE
    weekly, monthly = schedule["reports-weekly-email"], schedule["reports-monthly-email"]
    assert (weekly["task"], weekly["args"]) == ("apps.reports.tasks.send_report", ("week",))
    on_mondays: Any = weekly["schedule"]  # celery-stubs lack crontab's fields
    assert (on_mondays.day_of_week, on_mondays.hour, on_mondays.minute) == ({1}, {8}, {0})
    on_the_first: Any = monthly["schedule"]
    assert (monthly["args"], on_the_first.day_of_month, on_the_first.hour) == (("month",), {1}, {8})

    monkeypatch.setenv("REPORTS_WEEKLY_ENABLED", "false")
    monkeypatch.setenv("REPORTS_MONTHLY_ENABLED", "false")
    for name in ("reports-weekly-email", "reports-monthly-email"):
        monkeypatch.delitem(schedule, name)  # restored after the test
    importlib.reload(report_settings)
    try:
        assert "reports-weekly-email" not in report_settings.CELERY_BEAT_SCHEDULE
        assert "reports-monthly-email" not in report_settings.CELERY_BEAT_SCHEDULE
        assert "reports-daily-email" in report_settings.CELERY_BEAT_SCHEDULE
    finally:
        monkeypatch.undo()
        importlib.reload(report_settings)
