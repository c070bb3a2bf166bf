"""The conversation-level export: one row per conversation of the range with its lifecycle
figures, requested, run and downloaded like the message export (and streamed right away)."""

import csv
import io
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.reports import selectors, services
from apps.reports.models import Export
from tests.reports.scripted_day import DAY, play

RANGE = {"date_from": DAY.isoformat(), "date_to": DAY.isoformat()}
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("export_root")]

# First response, resolution, queue wait, CSAT, breaches of the three conversations with a human.
A1 = ["120", "600", "60", "5", "0"]  # queued 10:00, taken 10:01, answered 10:02, closed 10:10, rated 5
A2 = ["400", "1200", "180", "3", "1"]  # queued 11:00, taken 11:03, answered 11:06:40 (> 300 s), closed 11:20
X1 = ["", "240", "", "", "0"]  # queued 12:00, left 12:04 unanswered and unassigned
# The scripted day's conversations by hand (scripted_day.py): id left out, then channel, customer,
# created, closed, end reason, agent, team, first response, resolution, queue wait, CSAT, breaches.
EXPECTED = [
    ["simulator", "b1", "2026-03-10 09:00:00", "2026-03-10 09:01:00", "bot_resolved", "", "", "", "60", "", "", "0"],
    ["simulator", "b2", "2026-03-10 09:30:00", "2026-03-10 09:32:00", "bot_resolved", "", "", "", "120", "", "", "0"],
    ["simulator", "b3", "2026-03-10 09:40:00", "2026-03-10 09:45:00", "bot_resolved", "", "", "", "300", "", "", "0"],
    ["simulator", "a1", "2026-03-10 10:00:00", "2026-03-10 10:10:00", "agent_resolved", "alice", "售前", *A1],
    ["simulator", "a2", "2026-03-10 11:00:00", "2026-03-10 11:20:00", "agent_resolved", "bob", "售后", *A2],
    ["simulator", "x1", "2026-03-10 12:00:00", "2026-03-10 12:04:00", "abandoned", "", "售前", *X1],
]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body_of(response: Any) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test client is WSGI-style; the view streams for ASGI
        return b"".join(response)


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_scripted_day_exports_one_row_per_conversation(day: ModuleType, manager: User, fmt: str) -> None:
    played = play(day)
    client = client_for(manager)
    response = client.post(reverse("admin:reports_export_request"), {**RANGE, "kind": "conversations", "format": fmt})
    assert response.status_code == 302
    export = Export.objects.get()
    assert (export.kind, export.format) == ("conversations", fmt)
    # The task's body (tasks are enqueued on commit, which this test transaction never reaches).
    services.export_run(export_id=export.pk)
    export.refresh_from_db()
    assert (export.status, export.rows_total, export.rows_done) == ("done", 6, 6)
    assert Path(export.file.name or "").name.startswith("conversations-20260310-20260310-")

    content = body_of(client.get(reverse("admin:reports_export_download", args=[export.pk])))
    if fmt == "csv":
        rows = csv_rows(content)
    else:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        rows = [
            [("" if v is None else v if isinstance(v, str) else str(v)) for v in row]
            for row in book["conversations"].iter_rows(values_only=True)
        ]
        rows[1:] = [[*r[:3], r[3][:19], r[4][:19], *r[5:]] for r in rows[1:]]  # datetimes as text
    assert rows[0] == selectors.CONVERSATION_EXPORT_HEADER
    assert [r[1:] for r in rows[1:]] == EXPECTED
    by_customer = {r[2]: int(r[0]) for r in rows[1:]}
    assert (by_customer["a1"], by_customer["a2"], by_customer["x1"]) == (played.a1.pk, played.a2.pk, played.x1.pk)


def test_the_conversations_stream_as_csv_right_away(day: ModuleType, manager: User) -> None:
    play(day)
    response = client_for(manager).get(reverse("admin:reports_export_stream"), {**RANGE, "kind": "conversations"})
    assert response.status_code == 200
    assert 'filename="conversations-2026-03-10-2026-03-10.csv"' in response["Content-Disposition"]
    assert [r[1:] for r in csv_rows(body_of(response))[1:]] == EXPECTED


def test_an_unknown_kind_is_refused(manager: User) -> None:
    response = client_for(manager).get(reverse("admin:reports_export_stream"), {**RANGE, "kind": "customers"})
    assert response.status_code == 400
