"""Each dashboard figure against the hand-built history of conftest.py, worked out by hand."""

from datetime import date

import pytest

from apps.reports import selectors
from apps.reports.selectors import DailyCount, DailyMessages, Durations, ReportRange
from tests.reports.conftest import History

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
ALL = ReportRange(date_from=D1, date_to=D3)


def test_messages_per_day_count_local_days_and_leave_out_other_days(history: History) -> None:
    assert selectors.messages_per_day(r=ALL) == [
        DailyMessages(day=D1, inbound=3, outbound=3),
        # c6 at 00:30 Shanghai is still 1 March in UTC: it belongs to 2 March here.
        DailyMessages(day=D2, inbound=3, outbound=4),
        DailyMessages(day=D3, inbound=1, outbound=1),
    ]


def test_a_day_without_traffic_shows_as_zero(history: History) -> None:
    r = ReportRange(date_from=D3, date_to=date(2026, 3, 4))
    assert selectors.messages_per_day(r=r)[-1] == DailyMessages(day=date(2026, 3, 4), inbound=0, outbound=0)


def test_conversations_per_day(history: History) -> None:
    assert selectors.conversations_per_day(r=ALL) == [
        DailyCount(day=D1, count=2),
        DailyCount(day=D2, count=2),
        DailyCount(day=D3, count=1),
    ]


def test_containment_counts_conversations_closed_without_a_human(history: History) -> None:
    outcomes = selectors.conversation_outcomes(r=ALL)
    # closed: c1, c2, c6; without a human: c1, c6. With a human: c2 (handed over), c3 (failed, agent).
    assert (outcomes.conversations, outcomes.closed, outcomes.closed_without_human, outcomes.with_human) == (5, 3, 2, 2)
    assert outcomes.containment_rate == pytest.approx(2 / 3)
    assert outcomes.handoff_rate == pytest.approx(2 / 5)


def test_flagged_rate_by_category_counts_each_customer_message_once_per_category(history: History) -> None:
    flagged = {c.category: (c.messages, c.rate) for c in selectors.flagged_by_category(r=ALL)}
    # 7 customer messages in range; fraud: c1-in1 (two terms) and c2-in1 (semantic); abuse: c2-in1;
    # pii: the bot's answer to c3-in1. The fraud flag of c5 is out of range.
    assert flagged == {
        "fraud": (2, pytest.approx(2 / 7)),
        "abuse": (1, pytest.approx(1 / 7)),
        "pii": (1, pytest.approx(1 / 7)),
    }


def test_first_response_times_for_the_bot_and_for_humans(history: History) -> None:
    bot, human = selectors.first_response_times(r=ALL)
    # bot: c1 2 s, c3 1 s, c4 5 s, c6 10 s. P90 interpolates between 5 and 10: 5 + 0.7 * 5.
    assert bot == Durations(count=4, median=3.5, mean=4.5, p90=8.5)
    # human: c2 30 s (handed over -> alice), c3 60 s (failed message -> bob).
    assert human == Durations(count=2, median=45.0, mean=45.0, p90=57.0)


def test_resolution_times_split_by_whether_a_human_took_part(history: History) -> None:
    bot, human = selectors.resolution_times(r=ALL)
    assert bot == Durations(count=2, median=450.0, mean=450.0, p90=570.0)  # c1 300 s, c6 600 s
    assert human == Durations(count=1, median=600.0, mean=600.0, p90=600.0)  # c2


def test_llm_latency_percentiles_over_all_endpoints_then_each(history: History) -> None:
    rows = {row.endpoint: row for row in selectors.llm_latency(r=ALL)}
    everything = rows[""]
    # answer_ms in range: 1000, 1500, 3000, 5000, 9000 (c5's 99999 is out).
    assert (everything.count, everything.total_p50, everything.total_p90, everything.total_p99) == (5, 3000, 7400, 8840)
    # ttft: 200, 300, 500, 1000 (c4 came from the knowledge base and has none).
    assert (everything.ttft_p50, everything.ttft_p90) == (400, 850)
    assert (rows["gpu-a"].count, rows["gpu-a"].total_p50, rows["gpu-a"].total_p90, rows["gpu-a"].ttft_p50) == (
        3,
        3000,
        7800,
        500,
    )
    assert (rows["gpu-b"].count, rows["gpu-b"].total_p50, rows["gpu-b"].total_p90, rows["gpu-b"].ttft_p50) == (
        2,
        3000,
        4600,
        200,
    )
    assert list(rows) == ["", "gpu-a", "gpu-b"]


def test_cache_hit_rate_is_the_share_of_bot_answers_served_from_the_cache(history: History) -> None:
    assert selectors.cache_hit_rate(r=ALL) == pytest.approx(1 / 5)


def test_cache_hit_rate_is_not_available_when_no_answer_records_its_source(db: None) -> None:
    assert selectors.cache_hit_rate(r=ALL) is None


def test_agent_workload(history: History) -> None:
    loads = {a.username: (a.messages, a.conversations, a.open_assigned) for a in selectors.agent_workload(r=ALL)}
    assert loads == {"alice": (1, 1, 0), "bob": (1, 1, 1)}


def test_the_channel_filter_applies_to_every_figure(history: History) -> None:
    d = selectors.dashboard_get(r=ReportRange(date_from=D1, date_to=D3, channel="official_account"))
    assert [(x.inbound, x.outbound) for x in d.messages_per_day] == [(0, 0), (2, 3), (1, 1)]
    assert [x.count for x in d.conversations_per_day] == [0, 1, 1]
    assert (d.outcomes.conversations, d.outcomes.closed, d.outcomes.with_human) == (2, 0, 1)
    assert d.outcomes.containment_rate is None
    assert [(c.category, c.messages) for c in d.flagged] == [("pii", 1)]
    assert d.first_response_bot == Durations(count=2, median=3.0, mean=3.0, p90=4.6)
    assert d.latency[0].count == 2
    assert {a.username for a in d.agents} == {"bob"}
