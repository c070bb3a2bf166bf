"""The daily report goes by e-mail to the managers, and only to them."""

from datetime import date
from typing import Any

from django.contrib.auth.models import Group, Permission, User

from apps.reports import services
from tests.reports.conftest import History


def test_the_daily_report_is_mailed_to_managers_with_the_days_figures(
    history: History, manager: User, agent: User, mailoutbox: list[Any], settings: Any
) -> None:
    settings.REPORTS_EMAIL_EXTRA_RECIPIENTS = ["ops@example.com"]
    group = Group.objects.create(name="managers")
    group.permissions.add(Permission.objects.get(codename="manager", content_type__app_label="reports"))
    via_group = User.objects.create_user("carol", email="carol@example.com", password="pw-carol-12345")
    via_group.groups.add(group)

    sent_to = services.daily_report_send(day=date(2026, 3, 1))

    assert sent_to == 3
    (mail,) = mailoutbox
    assert sorted(mail.bcc) == ["boss@example.com", "carol@example.com", "ops@example.com"]
    assert mail.to == []
    assert "2026-03-01" in mail.subject
    # 1 March: 6 messages, 2 conversations, both closed, one without a human.
    assert ": 6\n" in mail.body
    assert ": 2\n" in mail.body
    assert ": 50%" in mail.body
    assert mail.alternatives[0][1] == "text/html"


def test_no_mail_goes_out_when_no_manager_has_an_address(agent: User, mailoutbox: list[Any]) -> None:
    assert services.daily_report_send(day=date(2026, 3, 1)) == 0
    assert mailoutbox == []


def test_the_beat_schedule_runs_the_daily_report(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["reports-daily-email"]
    assert (entry["task"], entry["args"]) == ("apps.reports.tasks.send_report", ("day",))
    assert entry["schedule"].hour == {settings.REPORTS_DAILY_HOUR}
