"""The fast subset of bench/faults.py, in CI: each fault is injected into the whole running desk
(uvicorn, both Celery workers, beat, Postgres, Redis, a real OpenAI-compatible server) while
customers write, and afterwards every message must be answered exactly once, or handed to a human
with the customer told. The full runs and their figures are in docs/reliability.md."""

import pytest

from bench.faults import SCENARIOS, Outcome, run_scenario

pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]

MESSAGES = 40


def run(name: str) -> Outcome:
    outcome = run_scenario(SCENARIOS[name], messages=MESSAGES, rate=10, customers=12)
    tally = outcome.tally
    assert tally.sent == MESSAGES
    assert tally.lost == 0, tally.line()
    assert tally.duplicated == 0, tally.line()
    assert tally.answered_once + tally.handed_over == MESSAGES, tally.line()
    return outcome


@pytest.mark.parametrize("name", ["worker-sigkill", "redis-restart", "postgres-restart", "endpoint-down"])
def test_infrastructure_faults_lose_and_duplicate_nothing(name: str) -> None:
    outcome = run(name)
    # None of these needs a human: the desk recovers by itself and answers everything.
    assert outcome.tally.answered_once == MESSAGES, outcome.tally.line()
    if name == "worker-sigkill":
        assert set(outcome.extra["restarted after a crash"]) == {"worker", "llm"}  # type: ignore[call-overload]


def test_every_webhook_delivered_three_times_is_answered_once() -> None:
    outcome = run("webhook-retries")
    assert outcome.tally.answered_once == MESSAGES
    assert outcome.extra["acks"] == {"success": 3 * MESSAGES}  # every copy acked in time, none refused
    assert outcome.extra["custom-send replies"] == MESSAGES
    assert outcome.extra["duplicate sends"] == 0


def test_dropped_websocket_events_are_made_up_by_the_resync() -> None:
    outcome = run("websocket-drops")
    assert outcome.extra["customer saw a reply"] == MESSAGES


def test_an_llm_outage_delays_answers_or_hands_over_with_the_customer_told() -> None:
    outcome = run("llm-500-hang-recover")
    # Messages after the recovery are answered by the bot again.
    assert outcome.tally.answered_once >= MESSAGES // 4, outcome.tally.line()
