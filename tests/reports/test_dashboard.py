"""The dashboard page and every export view: managers only (reports.manager), 403 for other staff."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.reports.conftest import History

RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-03"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("name", "method", "args"),
    [
        ("admin:reports_dashboard", "get", []),
        ("admin:reports_export_stream", "get", []),
        ("admin:reports_export_request", "post", []),
        ("admin:reports_export_download", "get", [1]),
        ("admin:reports_export_changelist", "get", []),
    ],
)
def test_staff_without_the_manager_permission_get_403(agent: User, name: str, method: str, args: list[Any]) -> None:
    response = getattr(client_for(agent), method)(reverse(name, args=args), RANGE)
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(db: None) -> None:
    response = Client().get(reverse("admin:reports_dashboard"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_a_manager_sees_the_figures_and_charts_of_the_chosen_range(history: History, manager: User) -> None:
    response = client_for(manager).get(reverse("admin:reports_dashboard"), RANGE, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    d = response.context["d"]
    assert (d.messages_total, d.outcomes.conversations) == (15, 5)
    assert response.context["containment"] == "66.7%"
    assert response.context["handoff"] == "40.0%"
    assert response.context["cache_hit"] == "20.0%"
    assert html.count('<svg class="chart"') == 3
    for element_id in ("fig-messages", "fig-containment", "times", "latency", "agents", "export-form"):
        assert f'id="{element_id}"' in html
    assert "alice" in html
    assert "gpu-a" in html


def test_the_dashboard_refuses_an_inverted_range(manager: User) -> None:
    response = client_for(manager).get(
        reverse("admin:reports_dashboard"), {"date_from": "2026-03-03", "date_to": "2026-03-01"}
    )
    assert response.status_code == 200
    assert "d" not in response.context
    assert response.context["form"].errors


def test_a_superuser_counts_as_a_manager(db: None) -> None:
    boss = User.objects.create_superuser("root", password="pw-root-12345")
    assert client_for(boss).get(reverse("admin:reports_dashboard")).status_code == 200


def test_the_admin_index_lists_reports_only_for_managers(manager: User, agent: User) -> None:
    url = reverse("admin:reports_export_changelist")
    assert url in client_for(manager).get(reverse("admin:index")).content.decode()
    assert url not in client_for(agent).get(reverse("admin:index")).content.decode()
