"""SLA figures: breaches of the range's conversations against those that had a human (the
dashboard's compliance tile) and each exported message's conversation breach count."""

from datetime import date

from django.contrib.auth.models import User
from django.urls import reverse

from apps.reports import selectors
from apps.routing.models import SlaBreach
from tests.reports.conftest import History
from tests.reports.test_dashboard import RANGE, client_for


def breach(history: History, key: str, kind: str) -> None:
    message = history.messages[key]
    SlaBreach.objects.create(
        conversation_id=message.conversation_id,
        kind=kind,
        started_at=message.created_at,
        due_at=message.created_at,
        breached_at=message.created_at,
    )


def test_compliance_is_the_share_of_human_conversations_without_a_breach(history: History, manager: User) -> None:
    breach(history, "c3-in2", SlaBreach.Kind.FIRST)
    breach(history, "c3-out3", SlaBreach.Kind.NEXT)
    breach(history, "c5-in1", SlaBreach.Kind.FIRST)  # a conversation of the day before: left out

    r = selectors.ReportRange(date_from=date(2026, 3, 1), date_to=date(2026, 3, 3))
    summary = selectors.sla_summary(r=r, with_human=2)  # c2 and c3 had a human
    assert (summary.first_breaches, summary.next_breaches, summary.conversations_breached) == (1, 1, 1)
    assert summary.compliance == 0.5

    response = client_for(manager).get(reverse("admin:reports_dashboard"), RANGE)
    assert response.context["sla_compliance"] == "50.0%"
    assert 'id="fig-sla"' in response.content.decode()

    rows = list(selectors.export_rows(r=r))
    breaches = {row[0]: row[selectors.EXPORT_HEADER.index("sla_breaches")] for row in rows}
    assert breaches[history.messages["c3-in1"].pk] == 2
    assert breaches[history.messages["c2-in1"].pk] == 0
