"""The console, the manager's reports and every ninja route, as every persona.

Agents serve customers (console, review queue, notes, replies to their own conversations) but do
not blacklist or export; managers read dashboards and export but cannot reply; admins configure
and stay out of both. Machine routes answer to tokens, never to a staff session.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from project.api import api
from tests.security.conftest import PERSONA_IDS, PERSONAS, Persona, World

CONSOLE = {"agent", "superuser"}
MANAGER = {"manager", "superuser"}
RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-03"}

Check = Callable[[Client, World], HttpResponseBase]


def _checks(world: World) -> list[tuple[str, Check, set[str], int]]:
    """(name, request, roles allowed, status when allowed)."""
    conversation = world.conversation.pk
    flags = world.flags
    customer = world.conversation.customer_id
    labelling = {"label": world.objects["customers.label"].pk, "op": "add", "target": "conversation"}

    def get(name: str, *args: object, query: dict[str, str] | None = None) -> Check:
        return lambda client, _: client.get(reverse(f"admin:{name}", args=args), query or {})

    def post(name: str, *args: object, data: dict[str, Any] | None = None) -> Check:
        return lambda client, _: client.post(reverse(f"admin:{name}", args=args), data or {})

    audit_export = post(
        "audit_auditlog_changelist",
        data={"action": "export_csv", "_selected_action": [world.objects["audit.auditlog"].pk]},
    )
    return [
        ("console queue", get("console_workspace_changelist"), CONSOLE, 200),
        ("console list", get("console_conversations"), CONSOLE, 200),
        ("console conversation", get("console_conversation", conversation), CONSOLE, 200),
        ("console timeline", get("console_conversation_timeline", conversation), CONSOLE, 200),
        ("console note", post("console_conversation_action", conversation, "note", data={"body": "x"}), CONSOLE, 200),
        ("flag confirm", post("console_flag_action", flags[1].pk, "confirm"), CONSOLE, 200),
        # Blacklisting from the queue is configuration: console users without moderation.add_term get 403.
        (
            "flag term",
            post("console_flag_action", flags[2].pk, "term", data={"text": "这个骗子", "category": "fraud"}),
            {"superuser"},
            200,
        ),
        # Customer profiles and labels: the inbox's JSON endpoints, for console users.
        ("customer profile", get("customers_profile", customer), CONSOLE, 200),
        ("customer labels", get("customers_labels"), CONSOLE, 200),
        ("customer find", get("customers_find", query={"q": "张"}), CONSOLE, 200),
        (
            "customer label",
            post("customers_label", data={**labelling, "target": "customer", "id": customer}),
            CONSOLE,
            200,
        ),
        ("conversation label", post("customers_label", data={**labelling, "id": conversation}), CONSOLE, 200),
        ("customer note", post("customers_note", data={"customer": customer, "body": "VIP"}), CONSOLE, 200),
        ("reports dashboard", get("reports_dashboard", query=RANGE), MANAGER, 200),
        ("reports stream", get("reports_export_stream", query=RANGE), MANAGER, 200),
        ("reports download", get("reports_export_download", world.export.pk), MANAGER, 200),
        ("reports request", post("reports_export_request", data={**RANGE, "format": "csv"}), MANAGER, 302),
        ("audit export", audit_export, {"manager"}, 200),  # superusers pass too; see below
    ]


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
def test_console_and_report_pages_grant_exactly_the_role(persona: Persona, world: World) -> None:
    client = world.client(persona)
    got: dict[str, object] = {}
    want: dict[str, object] = {}
    for name, request, roles, ok in _checks(world):
        response = request(client, world)
        allowed = persona.role in roles or (name == "audit export" and persona.role == "superuser")
        if persona.kind == "anonymous":
            got[name] = (response.status_code, "/login/" in response.get("Location", ""))
            want[name] = (302, True)
        elif name == "audit export":
            # An action the user may not run is not offered: the changelist answers, with no file.
            got[name] = response.get("Content-Type", "").startswith("text/csv")
            want[name] = allowed
        else:
            got[name] = response.status_code
            want[name] = ok if allowed else 403
        if name == "reports request" and allowed:
            assert response["Location"] == reverse("admin:reports_export_changelist")

    assert got == want


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
def test_only_the_assigned_agent_may_reply(persona: Persona, world: World) -> None:
    url = reverse("admin:console_conversation_action", args=[world.conversation.pk, "reply"])

    status = world.client(persona).post(url, {"body": "您好，我来处理"}).status_code

    expected = {"agent-owner": 200, "agent-teammate": 409, "superuser": 409, "anonymous": 302}
    assert status == expected.get(persona.name, 403)


def _operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return [(method.upper(), path) for path, item in schema["paths"].items() for method in item]


def test_the_schema_lists_the_inbound_and_simulator_routes() -> None:
    paths = {path for _, path in _operations()}

    assert {"/api/inbound/messages", "/api/simulator/messages"} <= paths


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
def test_api_routes_ignore_staff_sessions(persona: Persona, world: World) -> None:
    """Inbound routes need a bearer token whatever the session; simulator routes are public."""
    client = world.client(persona)
    got: dict[str, int] = {}
    for method, path in _operations():
        response = client.generic(method, path, b"{}", content_type="application/json")
        got[f"{method} {path}"] = response.status_code

    # Simulator: an empty JSON object is invalid input (422), or the wrong media type for images (415).
    want = {key: 401 if " /api/inbound/" in key else 415 if key.endswith("/image") else 422 for key in got}
    assert got == want


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
def test_the_api_docs_are_for_staff(persona: Persona, world: World) -> None:
    client = world.client(persona)

    statuses = {path: client.get(path).status_code for path in ("/api/docs", "/api/openapi.json")}

    expected = 302 if persona.kind == "anonymous" else 200
    assert statuses == {"/api/docs": expected, "/api/openapi.json": expected}
