"""The scripted day (scripted_day.py: real spine, console and routing services); every lifecycle
figure equals the value worked out by hand in the comments there and here.

Rows stamp themselves with Django's clock (auto_now_add) and timers read the desk's clock, so the
``day`` fixture (conftest.py) points both at one scripted time that ``clock.advance`` moves: each
message, ticket and close lands at the second the script says.
"""

from dataclasses import replace
from types import ModuleType

import pytest

from apps.conversations.models import Conversation, Message, Satisfaction
from apps.reports.selectors.dashboard import conversation_outcomes
from apps.reports.selectors.lifecycle import Csat, Times, lifecycle_figures
from apps.reports.selectors.sla import sla_summary
from apps.routing.models import SlaBreach
from tests.reports.scripted_day import DAY, R, play

EndReason = Conversation.EndReason


@pytest.mark.django_db
def test_a_scripted_day_gives_the_hand_computed_figures(day: ModuleType, settings: object) -> None:
    played = play(day)
    sales, bob, a2 = played.sales, played.bob, played.a2

    # The script did what it says, through the services.
    ends = dict(Conversation.objects.values_list("customer__external_id", "end_reason"))
    assert ends == {
        "b1": EndReason.BOT_RESOLVED,
        "b2": EndReason.BOT_RESOLVED,
        "b3": EndReason.BOT_RESOLVED,
        "a1": EndReason.AGENT_RESOLVED,
        "a2": EndReason.AGENT_RESOLVED,
        "x1": EndReason.ABANDONED,  # closed while queued
    }
    assert list(Satisfaction.objects.order_by("score").values_list("score", flat=True)) == [3, 5]
    assert SlaBreach.objects.get().conversation_id == a2.pk
    assert not Message.objects.filter(created_at__date__lt=DAY).exists()

    figures = lifecycle_figures(r=R)
    overall = figures.overall
    # Closed 6: 3 bot, 2 agent, 1 abandoned; containment 3 / 6.
    assert overall.closed == 6
    assert overall.by_reason == {"bot_resolved": 3, "agent_resolved": 2, "abandoned": 1}
    assert overall.containment == 0.5
    # First response: A1 120, A2 400 -> median (120 + 400) / 2 = 260, mean 260.
    assert overall.first_response == Times(count=2, median=260.0, mean=260.0)
    # Resolution: 60, 120, 300, 600, 1200, 240 -> sorted 60 120 240 300 600 1200:
    # median (240 + 300) / 2 = 270, mean 2520 / 6 = 420.
    assert overall.resolution == Times(count=6, median=270.0, mean=420.0)
    # Queue wait: A1 60, A2 180 (X1 never assigned) -> median 120, mean 120.
    assert overall.queue_wait == Times(count=2, median=120.0, mean=120.0)
    # CSAT: 5 and 3 -> mean 4.0, one of two rated 4-5.
    assert overall.csat == Csat(count=2, mean=4.0, satisfied=1)
    assert overall.csat.satisfied_share == 0.5
    # SLA: A1, A2 and X1 had a human (X1's message was handed over), A2 breached -> 2 / 3.
    assert (overall.with_human, overall.breached) == (3, 1)
    assert overall.sla_compliance == pytest.approx(2 / 3)
    # The same as the dashboard's tile (sla.py over the dashboard's "with a human").
    with_human = conversation_outcomes(r=R).with_human
    assert sla_summary(r=R, with_human=with_human).compliance == overall.sla_compliance

    by_agent = {row.label: row for row in figures.agents}
    assert set(by_agent) == {"alice", "bob"}
    alice_row, bob_row = by_agent["alice"], by_agent["bob"]
    assert (alice_row.closed, alice_row.by_reason, alice_row.containment) == (1, {"agent_resolved": 1}, 0.0)
    assert alice_row.first_response == Times(count=1, median=120.0, mean=120.0)
    assert alice_row.resolution == Times(count=1, median=600.0, mean=600.0)
    assert alice_row.queue_wait == Times(count=1, median=60.0, mean=60.0)
    assert alice_row.csat == Csat(count=1, mean=5.0, satisfied=1)
    assert alice_row.sla_compliance == 1.0
    assert bob_row.first_response == Times(count=1, median=400.0, mean=400.0)
    assert bob_row.resolution == Times(count=1, median=1200.0, mean=1200.0)
    assert bob_row.queue_wait == Times(count=1, median=180.0, mean=180.0)
    assert bob_row.csat == Csat(count=1, mean=3.0, satisfied=0)
    assert bob_row.sla_compliance == 0.0

    by_team = {row.label: row for row in figures.teams}
    assert set(by_team) == {"售前", "售后"}
    pre = by_team["售前"]
    # 售前: A1 (agent-resolved, 600 s) and X1 (abandoned, 240 s): median (240 + 600) / 2 = 420.
    assert (pre.closed, pre.by_reason) == (2, {"agent_resolved": 1, "abandoned": 1})
    assert pre.resolution == Times(count=2, median=420.0, mean=420.0)
    assert pre.first_response == Times(count=1, median=120.0, mean=120.0)
    assert pre.queue_wait == Times(count=1, median=60.0, mean=60.0)
    assert pre.csat == Csat(count=1, mean=5.0, satisfied=1)
    assert (pre.with_human, pre.breached, pre.sla_compliance) == (2, 0, 1.0)
    post = by_team["售后"]
    assert (post.closed, post.with_human, post.breached, post.sla_compliance) == (1, 1, 1, 0.0)

    # Narrowed to a team or an agent, the overall row is that group's.
    assert replace(lifecycle_figures(r=R, team_id=sales.pk).overall, label="售前") == pre
    only_bob = lifecycle_figures(r=R, agent_id=bob.pk)
    assert only_bob.overall.resolution == bob_row.resolution
    assert only_bob.overall.queue_wait == bob_row.queue_wait
