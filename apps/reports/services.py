"""Writes of the reports app: request and run exports, send the daily report."""

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Permission
from django.core.files import File
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.core.side_effects import enqueue_on_commit
from apps.reports import selectors, writers
from apps.reports.models import Export
from apps.reports.selectors import ReportRange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportKind:
    """What one kind of export writes: its header, its rows and their count, and the file's name."""

    header: list[str]
    rows: Callable[..., Iterator[tuple[Any, ...]]]
    count: Callable[..., int]
    name: str  # file-name prefix and XLSX sheet name


EXPORT_KINDS: dict[str, ExportKind] = {
    Export.Kind.MESSAGES: ExportKind(
        selectors.EXPORT_HEADER, selectors.export_rows, selectors.export_rows_count, "messages"
    ),
    Export.Kind.CONVERSATIONS: ExportKind(
        selectors.CONVERSATION_EXPORT_HEADER,
        selectors.conversation_export_rows,
        selectors.conversation_export_count,
        "conversations",
    ),
}


def export_request(
    *,
    user: AbstractBaseUser | AnonymousUser,
    fmt: str,
    date_from: date,
    date_to: date,
    channel: str = "",
    kind: str = Export.Kind.MESSAGES,
) -> Export:
    """Record an export and run it on a worker once the row is committed."""
    from apps.reports.tasks import run_export

    with transaction.atomic():
        export = Export.objects.create(
            requested_by_id=user.pk,
            kind=kind,
            format=fmt,
            date_from=date_from,
            date_to=date_to,
            channel=channel,
        )
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=AuditEvent.REPORT_EXPORT,
            actor_id=user.pk,
            channel=channel,
            details={"export_id": export.pk, "kind": kind, "format": fmt, "from": str(date_from), "to": str(date_to)},
        )
        enqueue_on_commit(run_export, export.pk)
    return export


def export_run(*, export_id: int) -> Export:
    """Write the export's file, recording progress as it goes. Idempotent: a finished export is
    left alone; a retried one starts over and replaces any partial file."""
    claimed = Export.objects.filter(pk=export_id, status__in=[Export.Status.PENDING, Export.Status.RUNNING]).update(
        status=Export.Status.RUNNING, started_at=timezone.now(), rows_done=0, error=""
    )
    export = Export.objects.get(pk=export_id)
    if not claimed:
        return export
    r = ReportRange(date_from=export.date_from, date_to=export.date_to, channel=export.channel)
    kind = EXPORT_KINDS[export.kind]
    total = kind.count(r=r)
    Export.objects.filter(pk=export_id).update(rows_total=total)
    every = max(1, settings.REPORTS_EXPORT_PROGRESS_EVERY)

    def progress(done: int) -> None:
        if done % every == 0:
            Export.objects.filter(pk=export_id).update(rows_done=done)

    name = f"{kind.name}-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}-{export.pk}.{export.format}"
    try:
        with tempfile.TemporaryDirectory(prefix="desk-export-") as tmp:
            path = Path(tmp) / name
            written = export_file_write(path=path, fmt=export.format, r=r, progress=progress, kind=export.kind)
            storage = export.file.storage
            if export.file.name:
                storage.delete(export.file.name)
            with path.open("rb") as handle:
                stored = storage.save(name, File(handle))
    except Exception as exc:
        Export.objects.filter(pk=export_id).update(
            status=Export.Status.FAILED, error=repr(exc)[:500], finished_at=timezone.now()
        )
        logger.exception("export %s failed", export_id)
        raise
    Export.objects.filter(pk=export_id).update(
        status=Export.Status.DONE, file=stored, rows_done=written, rows_total=written, finished_at=timezone.now()
    )
    export.refresh_from_db()
    return export


def export_file_write(
    *,
    path: Path,
    fmt: str,
    r: ReportRange,
    progress: writers.Progress | None = None,
    kind: str = Export.Kind.MESSAGES,
) -> int:
    """Write the messages (or conversations) of ``r`` to ``path`` as CSV or XLSX; returns the
    number of rows."""
    # Outside a transaction on purpose: the progress updates must be visible while the file is written.
    # (The server-side cursor is then WITH HOLD: Postgres spools the result to its temp files, not to us.)
    spec = EXPORT_KINDS[kind]
    rows = spec.rows(r=r)
    if fmt == Export.Format.XLSX:
        return writers.xlsx_write(
            path=os.fspath(path), header=spec.header, rows=rows, progress=progress, sheet_name=spec.name
        )
    with path.open("w", encoding="utf-8", newline="") as out:
        return writers.csv_write(out=out, header=spec.header, rows=rows, progress=progress)


def exports_prune(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.REPORTS_EXPORT_KEEP_DAYS)
    old = list(Export.objects.filter(created_at__lt=cutoff))
    for export in old:
        if export.file.name:
            export.file.storage.delete(export.file.name)
    Export.objects.filter(pk__in=[e.pk for e in old]).delete()
    return len(old)


def manager_emails() -> list[str]:
    """Active users holding reports.manager (directly, through a group, or as superusers)."""
    perm = Permission.objects.filter(content_type__app_label="reports", codename="manager")
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    users = users.filter(Q(is_superuser=True) | Q(user_permissions__in=perm) | Q(groups__permissions__in=perm))
    emails = {u.email for u in users.distinct()}
    emails.update(settings.REPORTS_EMAIL_EXTRA_RECIPIENTS)
    return sorted(emails)


PERIODS = ("day", "week", "month")
_SUBJECTS = {
    "day": _("Service desk report for %(day)s"),
    "week": _("Weekly service desk report for %(day)s"),
    "month": _("Monthly service desk report for %(day)s"),
}


def report_period(*, period: str, today: date) -> ReportRange:
    """The last full period before ``today``: yesterday, last Monday-Sunday, or last calendar month."""
    if period == "day":
        yesterday = today - timedelta(days=1)
        return ReportRange(date_from=yesterday, date_to=yesterday)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return ReportRange(date_from=monday - timedelta(days=7), date_to=monday - timedelta(days=1))
    if period == "month":
        last = today.replace(day=1) - timedelta(days=1)
        return ReportRange(date_from=last.replace(day=1), date_to=last)
    raise ValueError(f"unknown report period {period!r}; one of {PERIODS}")


def report_send(*, period: str = "day", today: date | None = None) -> int:
    """E-mail the figures of the last full ``period`` before ``today`` (the dashboard's tiles and
    the lifecycle figures overall, per agent and per team) to the managers; returns the number
    of recipients. Sending twice sends twice: beat runs it once per period."""
    r = report_period(period=period, today=today or timezone.localdate())
    recipients = manager_emails()
    if not recipients:
        logger.info("%s report: no manager has an e-mail address; nothing sent", period)
        return 0
    label = r.date_from.isoformat() if r.date_from == r.date_to else f"{r.date_from} – {r.date_to}"
    subject = str(_SUBJECTS[period]) % {"day": label}
    dashboard = selectors.dashboard_get(r=r)
    lifecycle = selectors.lifecycle_figures(r=r)
    context = {
        "d": dashboard,
        "lc": lifecycle,
        "lifecycle_rows": [lifecycle.overall] if dashboard.outcomes.conversations else [],
        "day": label,
        "subject": subject,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/daily_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[],
        bcc=recipients,  # managers need not see each other's addresses
    )
    message.attach_alternative(render_to_string("reports/daily_email.html", context), "text/html")
    message.send()
    return len(recipients)


def daily_report_send(*, day: date | None = None) -> int:
    """E-mail yesterday's figures (or ``day``'s) to the managers; returns the number of recipients."""
    return report_send(period="day", today=day + timedelta(days=1) if day else None)
