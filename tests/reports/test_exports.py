"""Exports: requested from the dashboard, written by the task with progress, downloaded when ready;
the same rows streamed as CSV right away. Files are read back with csv and openpyxl."""

import csv
import io
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.reports import selectors, services
from apps.reports.models import Export
from tests.reports.conftest import History

RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-03"}
pytestmark = pytest.mark.usefixtures("export_root")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body_of(response: Any) -> bytes:
    with warnings.catch_warnings():
        # The test client is WSGI-style; the view streams an async iterator for ASGI.
        warnings.simplefilter("ignore")
        return b"".join(response)


def in_range_ids(history: History) -> list[int]:
    return sorted(m.pk for k, m in history.messages.items() if not k.startswith("c5"))


@pytest.mark.usefixtures("eager_tasks")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_manager_exports_a_range_and_downloads_the_file(
    history: History, manager: User, fmt: str, export_root: Path
) -> None:
    client = client_for(manager)
    response = client.post(reverse("admin:reports_export_request"), {**RANGE, "format": fmt})
    assert response.status_code == 302

    export = Export.objects.get()
    assert (export.status, export.rows_total, export.rows_done, export.requested_by) == ("done", 15, 15, manager)
    assert export.progress_percent == 100
    assert Path(export.file.path).is_relative_to(export_root)

    listing = client.get(reverse("admin:reports_export_changelist")).content.decode()
    download = reverse("admin:reports_export_download", args=[export.pk])
    assert download in listing

    content = body_of(client.get(download))
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        rows = [[("" if v is None else v) for v in row] for row in book["messages"].iter_rows(values_only=True)]
    assert rows[0] == selectors.EXPORT_HEADER
    assert [int(r[0]) for r in rows[1:]] == in_range_ids(history)
    by_id = {int(r[0]): r for r in rows[1:]}
    c1_out1 = by_id[history.messages["c1-out1"].pk]
    assert (c1_out1[3], c1_out1[4], c1_out1[5], str(c1_out1[9])) == ("simulator", "out", "bot", "gpu-a")
    assert c1_out1[13] == "c1-out1 内容, with a comma"
    created = c1_out1[1] if isinstance(c1_out1[1], str) else c1_out1[1].strftime("%Y-%m-%d %H:%M:%S")
    assert created == "2026-03-01 10:00:02"  # local (Shanghai) time
    assert by_id[history.messages["c2-out1"].pk][6] == "alice"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_writers_report_progress_row_by_row(history: History, tmp_path: Path, fmt: str) -> None:
    seen: list[int] = []
    r = selectors.ReportRange(date_from=date(2026, 3, 1), date_to=date(2026, 3, 3))
    assert services.export_file_write(path=tmp_path / f"x.{fmt}", fmt=fmt, r=r, progress=seen.append) == 15
    assert seen == list(range(1, 16))


def test_a_running_export_shows_its_share_of_rows_written(manager: User) -> None:
    export = Export(
        format="csv", date_from="2026-03-01", date_to="2026-03-03", status="running", rows_total=15, rows_done=5
    )
    assert export.progress_percent == 33
    export.rows_done = 15  # written, but not yet stored: never "100 %" before the file is ready
    assert export.progress_percent == 99


def test_running_an_export_twice_leaves_the_finished_file_alone(history: History, manager: User) -> None:
    export = Export.objects.create(requested_by=manager, format="csv", date_from="2026-03-01", date_to="2026-03-03")
    first = services.export_run(export_id=export.pk)
    second = services.export_run(export_id=export.pk)
    assert first.file.name == second.file.name
    assert second.finished_at == first.finished_at


def test_the_csv_streams_right_away_for_the_filtered_range(history: History, manager: User) -> None:
    response = client_for(manager).get(reverse("admin:reports_export_stream"), {**RANGE, "channel": "official_account"})
    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.reader(io.StringIO(body_of(response).decode("utf-8-sig"))))
    expected = sorted(m.pk for k, m in history.messages.items() if k.startswith(("c3", "c4")))
    assert [int(r[0]) for r in rows[1:]] == expected


def test_an_empty_range_exports_a_header_only_xlsx(manager: User, tmp_path: Path) -> None:
    r = selectors.ReportRange(date_from=date(2020, 1, 1), date_to=date(2020, 1, 2))
    path = tmp_path / "empty.xlsx"
    assert services.export_file_write(path=path, fmt="xlsx", r=r) == 0
    rows = list(openpyxl.load_workbook(path, read_only=True)["messages"].iter_rows(values_only=True))
    assert list(rows[0]) == selectors.EXPORT_HEADER
    assert len(rows) == 1


def test_old_exports_are_pruned_with_their_files(history: History, manager: User) -> None:
    export = Export.objects.create(requested_by=manager, format="csv", date_from="2026-03-01", date_to="2026-03-03")
    path = Path(services.export_run(export_id=export.pk).file.path)
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert services.exports_prune() == 1
    assert not path.exists()
    assert not Export.objects.exists()
