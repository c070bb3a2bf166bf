"""The dashboard's lifecycle tables (overall, per agent, per team) show the scripted day's figures,
with durations as people read them, in a bounded number of queries."""

import re
from types import ModuleType

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.reports.scripted_day import DAY, play

RANGE = {"date_from": DAY.isoformat(), "date_to": DAY.isoformat()}


def table_rows(html: str, table_id: str) -> dict[str, list[str]]:
    """{first cell: the other cells' text} of the table ``table_id``."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows: dict[str, list[str]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def get_dashboard(user: User, language: str) -> tuple[str, int]:
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:reports_dashboard"), RANGE, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


@pytest.mark.django_db
def test_the_dashboard_shows_the_scripted_days_lifecycle_per_agent_and_team(day: ModuleType, manager: User) -> None:
    play(day)
    html, queries = get_dashboard(manager, "en")

    # closed, containment, first response, resolution, queue wait (medians), CSAT mean, CSAT 4-5, SLA.
    assert table_rows(html, "lifecycle-overall") == {
        "all": ["6", "50.0%", "4 min 20 s", "4 min 30 s", "2 min 0 s", "4.0 (2)", "50.0%", "66.7%"]
    }
    assert table_rows(html, "lifecycle-agents") == {
        "alice": ["1", "0.0%", "2 min 0 s", "10 min 0 s", "1 min 0 s", "5.0 (1)", "100.0%", "100.0%"],
        "bob": ["1", "0.0%", "6 min 40 s", "20 min 0 s", "3 min 0 s", "3.0 (1)", "0.0%", "0.0%"],
    }
    assert table_rows(html, "lifecycle-teams") == {
        "售前": ["2", "0.0%", "2 min 0 s", "7 min 0 s", "1 min 0 s", "5.0 (1)", "100.0%", "100.0%"],
        "售后": ["1", "0.0%", "6 min 40 s", "20 min 0 s", "3 min 0 s", "3.0 (1)", "0.0%", "0.0%"],
    }
    # 20 queries for the rest of the page (session, user, permissions, the tiles and charts) and 6
    # for the lifecycle tables (three grouped aggregates, the agents' and teams' names, the SLA
    # breaches), whatever the number of agents and teams.
    assert queries <= 26, queries


@pytest.mark.django_db
def test_durations_read_in_chinese_by_default(day: ModuleType, manager: User) -> None:
    play(day)
    html, _ = get_dashboard(manager, "zh-hans")
    assert table_rows(html, "lifecycle-agents")["bob"][2:5] == ["6 分 40 秒", "20 分 0 秒", "3 分 0 秒"]


def test_an_empty_range_shows_the_empty_states(manager: User) -> None:
    html, _ = get_dashboard(manager, "en")
    assert "No conversations in this range." in html
    assert "No agent handled a conversation in this range." in html
    assert "No conversation was queued for a team in this range." in html
