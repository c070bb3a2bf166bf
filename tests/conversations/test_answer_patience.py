"""Answer patience: a short answerer outage delays the answer; a long one (or a refusal) gets a human.

The task runs in this process here: each retry it asks Celery for is replayed at once, from the
very signature Celery would send to the broker, without its countdown. These tests check the
decision (defer or fall back), the countdowns asked for and the retry budgets; waiting them out
against a real worker and a real LLM server is tests/llm/test_answer_patience.py.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

import pytest
from celery.exceptions import Retry
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.conversations import services
from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import Answer, AnswerUnavailable, Turn
from apps.conversations.tasks import process_inbound
from tests.factories import receive

Status = Message.Status
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class ScriptedAnswerer:
    """Raises the scripted errors in turn, then answers; counts its calls across instances."""

    script: ClassVar[list[Exception]] = []
    calls: ClassVar[int] = 0

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        cls = type(self)
        cls.calls += 1
        if cls.calls <= len(cls.script):
            raise cls.script[cls.calls - 1]
        return Answer(text=f"恢复了：{question}")


@pytest.fixture
def scripted(use_answerer: Callable[[str], None]) -> Callable[..., type[ScriptedAnswerer]]:
    def _script(*errors: Exception) -> type[ScriptedAnswerer]:
        ScriptedAnswerer.script = list(errors)
        ScriptedAnswerer.calls = 0
        use_answerer(f"{__name__}.ScriptedAnswerer")
        return ScriptedAnswerer

    return _script


def run_like_a_worker(message_id: int) -> list[float]:
    """Run process_inbound, then every retry it schedules, at once; the countdowns it asked for."""
    countdowns: list[float] = []
    signature = process_inbound.signature(args=(message_id,))
    while True:
        try:
            signature.apply(throw=True)
        except Retry as exc:
            retry = exc
        else:
            return countdowns
        countdowns.append(float(cast(float, retry.when)))  # a countdown: seconds, not a date
        signature = retry.sig  # type: ignore[attr-defined]  # set by Celery, missing from its stubs


def deferrals_counted() -> float:
    return REGISTRY.get_sample_value("desk_inbound_deferrals_total") or 0.0


def outage() -> AnswerUnavailable:
    return AnswerUnavailable("every endpoint is disabled or cooling down")


@pytest.mark.parametrize(
    ("age_s", "deferrals", "expected"),
    [
        (0, 0, 2.0),  # backing off: 2, 4, 8… s
        (2, 1, 4.0),
        (6, 2, 8.0),
        (40, 3, 5.0),  # capped: the last try falls at the end of the patience
        (44.5, 4, 1.0),  # but never sooner than a second
        (45, 0, None),  # patience spent: the fallback
        (60, 5, None),
    ],
)
def test_the_retry_backs_off_within_the_patience(
    settings: Any, age_s: float, deferrals: int, expected: float | None
) -> None:
    settings.DESK_ANSWER_PATIENCE_SECONDS = 45
    now = T0 + timedelta(seconds=age_s)

    assert services.answer_retry_in(received_at=T0, deferrals=deferrals, now=now) == expected


# Not committed, so message_receive enqueues nothing: the test runs the task itself.
@pytest.mark.django_db
class TestPatience:
    def test_a_short_outage_delays_the_answer_instead_of_handing_over(
        self, scripted: Callable[..., type[ScriptedAnswerer]]
    ) -> None:
        # More deferrals than the task's retry budget for other errors (3): they must not be cut short.
        answerer = scripted(outage(), outage(), outage(), outage(), outage())
        deferred_before = deferrals_counted()

        received = receive("在吗？").message

        countdowns = run_like_a_worker(received.pk)

        message = Message.objects.select_related("conversation").get(pk=received.pk)
        (reply,) = Message.objects.filter(reply_to=message)
        # No time passes between the replays, so no countdown is capped by the patience left.
        assert countdowns == [2.0, 4.0, 8.0, 16.0, 32.0]
        assert answerer.calls == 6
        assert message.status == Status.ANSWERED
        assert message.attempts == 6
        assert reply.author_kind == Message.AuthorKind.BOT
        assert reply.body == "恢复了：在吗？"
        assert message.conversation.mode == Conversation.Mode.BOT
        assert deferrals_counted() - deferred_before == 5

    def test_deferrals_do_not_use_up_the_retries_other_errors_get(
        self, scripted: Callable[..., type[ScriptedAnswerer]]
    ) -> None:
        # Four deferrals, then an unexpected error: it still gets its first retry, not a fallback.
        answerer = scripted(outage(), outage(), outage(), outage(), RuntimeError("database hiccup"))

        received = receive().message

        countdowns = run_like_a_worker(received.pk)

        message = Message.objects.get(pk=received.pk)
        assert countdowns == [2.0, 4.0, 8.0, 16.0, 2.0]  # the error's own first retry: 2 s
        assert answerer.calls == 6
        assert message.status == Status.ANSWERED
        assert [r.author_kind for r in Message.objects.filter(reply_to=message)] == [Message.AuthorKind.BOT]

    def test_a_refusal_that_waiting_cannot_fix_gets_the_fallback_at_once(
        self, scripted: Callable[..., type[ScriptedAnswerer]]
    ) -> None:
        answerer = scripted(AnswerUnavailable("request refused: HTTP 400", retryable=False))
        deferred_before = deferrals_counted()

        received = receive().message

        countdowns = run_like_a_worker(received.pk)

        message = Message.objects.select_related("conversation").get(pk=received.pk)
        (reply,) = Message.objects.filter(reply_to=message)
        assert countdowns == []
        assert answerer.calls == 1
        assert message.status == Status.FAILED
        assert message.error == "answerer unavailable: request refused: HTTP 400"
        assert message.conversation.mode == Conversation.Mode.QUEUED
        assert reply.author_kind == Message.AuthorKind.SYSTEM
        assert reply.body == "您好，人工客服稍后回复您，请稍候。"
        assert deferrals_counted() == deferred_before


@pytest.mark.django_db
class TestDeferral:
    """The service alone, on a claimed message (no task runs: nothing is enqueued without a commit)."""

    def claimed(self) -> Message:
        message = receive().message
        assert services.inbound_claim(message_id=message.pk)
        return message

    def test_a_young_message_is_released_until_its_retry_is_due(self) -> None:
        message = self.claimed()
        before = timezone.now()

        retry_in = services.inbound_answer_unavailable(message_id=message.pk, error=outage())

        message.refresh_from_db()
        assert retry_in == 2.0
        assert message.status == Status.RECEIVED
        assert message.status_changed_at >= before + timedelta(seconds=2)
        assert message.error == "answerer unavailable, retry in 2s: every endpoint is disabled or cooling down"
        assert not Message.objects.filter(reply_to=message).exists()

    def test_a_message_older_than_the_patience_gets_the_fallback(self, settings: Any) -> None:
        settings.DESK_ANSWER_PATIENCE_SECONDS = 45
        message = self.claimed()
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=46))

        retry_in = services.inbound_answer_unavailable(message_id=message.pk, error=outage(), deferrals=5)

        message = Message.objects.select_related("conversation").get(pk=message.pk)
        (reply,) = Message.objects.filter(reply_to=message)
        assert retry_in is None
        assert message.status == Status.FAILED
        assert message.conversation.mode == Conversation.Mode.QUEUED
        assert reply.body == "您好，人工客服稍后回复您，请稍候。"

    def test_the_sweeper_leaves_a_scheduled_retry_alone_but_recovers_a_lost_one(self, settings: Any) -> None:
        settings.DESK_ANSWER_PATIENCE_SECONDS = 45
        message = self.claimed()
        # Seven seconds old, three deferrals: the next try is 8 s away.
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=7))
        retry_in = services.inbound_answer_unavailable(message_id=message.pk, error=outage(), deferrals=2)
        assert retry_in == 8.0
        due = timezone.now() + timedelta(seconds=retry_in)
        grace = timedelta(seconds=settings.DESK_RECEIVED_GRACE_SECONDS)

        # The grace counts from the scheduled retry, not from the release.
        for now in (timezone.now(), timezone.now() + grace + timedelta(seconds=1), due + grace - timedelta(seconds=1)):
            assert services.messages_sweep(now=now).requeued_inbound == 0
        # A retry the grace past due is lost (its worker died holding it): the sweeper requeues it.
        assert services.messages_sweep(now=due + grace + timedelta(seconds=1)).requeued_inbound == 1
        message.refresh_from_db()
        assert message.status == Status.RECEIVED
