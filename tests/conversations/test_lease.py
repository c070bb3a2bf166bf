"""A renewed processing lease: a long call keeps its message, a dead worker's message is retried soon."""

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Message
from apps.conversations.services import lease
from tests.factories import receive
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for

Status = Message.Status
LEASE_S = 2
RENEW_S = 0.3


@pytest.fixture
def short_lease(settings: Any) -> None:
    # Short enough that a 3 s answer outlasts the lease several renewals over.
    settings.DESK_PROCESSING_LEASE_SECONDS = LEASE_S
    settings.DESK_PROCESSING_LEASE_RENEW_SECONDS = RENEW_S


def inbound(message_id: str) -> Message | None:
    return Message.objects.filter(direction=Message.Direction.INBOUND, channel_message_id=message_id).first()


def claimed_again(message: Message) -> Message:
    """An answered message put back to received with no reply, then claimed by this test (the holder)."""
    Message.objects.filter(reply_to=message).delete()
    Message.objects.filter(pk=message.pk).update(status=Status.RECEIVED, attempts=0)
    assert services.inbound_claim(message_id=message.pk)
    message.refresh_from_db()
    return message


def changed_at(message: Message) -> datetime:
    return Message.objects.values_list("status_changed_at", flat=True).get(pk=message.pk)


def renewed(message: Message) -> bool:
    """Claimed, and the lease moved on since the claim."""
    changed, started = Message.objects.values_list("status_changed_at", "processing_started_at").get(pk=message.pk)
    return started is not None and changed > started


def bot_replies(message: Message) -> int:
    return Message.objects.filter(reply_to=message, author_kind=Message.AuthorKind.BOT).count()


@pytest.mark.usefixtures("eager_tasks", "short_lease")
class TestRenewableLease:
    def test_a_call_that_outlasts_the_lease_keeps_its_message_and_answers_once(
        self, use_answerer: Callable[[str], None]
    ) -> None:
        # Given an answer that takes 3 s against a 2 s lease, running on a worker thread
        use_answerer("tests.support.answerers.SlowAnswerer")
        failures: list[BaseException] = []

        def work() -> None:
            try:
                receive("能快点吗？", message_id="wx-slow")
            except BaseException as exc:  # the assertion below reports it
                failures.append(exc)
            finally:
                connection.close()

        worker = threading.Thread(target=work)
        worker.start()
        wait_for(lambda: getattr(inbound("wx-slow"), "status", None) == Status.PROCESSING, what="the claim")
        message = inbound("wx-slow")
        assert message is not None
        assert message.processing_started_at is not None

        # When the sweeper passes again and again while the call is in flight
        reports: list[services.SweepReport] = []
        sweeps_past_lease = 0
        while worker.is_alive():
            now = timezone.now()
            reports.append(services.messages_sweep(now=now))
            sweeps_past_lease += now > message.processing_started_at + timedelta(seconds=LEASE_S + RENEW_S)
            time.sleep(0.1)
        worker.join()

        # Then it never took the message back, and the one claim ended in one answer
        assert not failures
        assert sweeps_past_lease >= 3
        assert [r.requeued_inbound for r in reports] == [0] * len(reports)
        message.refresh_from_db()
        assert message.status == Status.ANSWERED
        assert message.attempts == 1
        assert bot_replies(message) == 1

    def test_a_claim_whose_holder_is_gone_is_reclaimed_after_the_lease(self) -> None:
        message = claimed_again(receive("还在吗？", message_id="wx-gone").message)

        # Given a holder that kept the lease fresh, then left without settling the message
        with lease.lease_held(message.pk):
            wait_for(lambda: renewed(message), what="a renewal")
        time.sleep(RENEW_S)  # a tick that took its snapshot before the exit lands
        last_renewed = changed_at(message)
        assert services.messages_sweep().requeued_inbound == 0  # still within the lease

        # When nobody renews it any more
        time.sleep(RENEW_S * 4)
        assert changed_at(message) == last_renewed
        time.sleep(max(0.0, (last_renewed + timedelta(seconds=LEASE_S + 0.1) - timezone.now()).total_seconds()))

        # Then the sweeper reclaims it and it is answered once, by the second claim
        assert services.messages_sweep().requeued_inbound == 1
        message.refresh_from_db()
        assert message.status == Status.ANSWERED
        assert message.attempts == 2
        assert bot_replies(message) == 1

    def test_the_keeper_survives_failed_renewals_and_keeps_renewing(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Given a database that refuses the keeper's first three renewals
        caplog.set_level(logging.INFO, logger=lease.__name__)
        renew, calls = lease.leases_renew, []

        def refuse(*args: object) -> None:
            raise OperationalError("server closed the connection unexpectedly")

        def flaky(*, message_ids: list[int]) -> int:
            calls.append(message_ids)
            if len(calls) > 3:
                return renew(message_ids=message_ids)
            with connection.execute_wrapper(refuse):  # the keeper thread's own connection
                return renew(message_ids=message_ids)

        monkeypatch.setattr(lease, "leases_renew", flaky)
        message = claimed_again(receive("数据库挂了吗？", message_id="wx-flaky").message)

        # When the message is held past the lease
        with lease.lease_held(message.pk):
            wait_for(lambda: len(calls) > 3 and renewed(message), what="a renewal after the failures")
            time.sleep(LEASE_S + RENEW_S)
            report = services.messages_sweep()

        # Then the failures were logged once, not once a tick, and renewing went on
        assert report.requeued_inbound == 0
        assert timezone.now() - changed_at(message) < timedelta(seconds=LEASE_S)
        failed = [r for r in caplog.records if "renewal failed" in r.getMessage()]
        assert [(r.levelno, r.getMessage()) for r in failed] == [
            (logging.WARNING, "processing lease renewal failed (1 in a row, 1 messages held); retrying")
        ]
        assert any("works again after 3 failures" in r.getMessage() for r in caplog.records)


def test_a_forked_child_starts_a_keeper_of_its_own() -> None:
    parent_keeper = lease._keeper_get()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only, never return into pytest
        try:
            child_keeper = lease._keeper_get()
            alive = child_keeper._thread.is_alive()
            os._exit(0 if child_keeper is not parent_keeper and alive else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lease._keeper_get() is parent_keeper


@pytest.mark.live
def test_a_worker_killed_mid_call_has_its_message_reclaimed_one_lease_later(
    celery_worker_process: Callable[..., LiveProcess], short_lease: None
) -> None:
    lease_env = {"DESK_PROCESSING_LEASE_SECONDS": str(LEASE_S), "DESK_PROCESSING_LEASE_RENEW_SECONDS": str(RENEW_S)}
    # Given a worker stuck in a long model call, whose keeper renews the claim, and a healthy one beside it
    doomed = celery_worker_process(DESK_ANSWERER="tests.support.answerers.HangingAnswerer", **lease_env)
    message = receive("订单什么时候发货？", message_id="wx-kill").message
    wait_for(lambda: renewed(message), what="the doomed worker's keeper to renew the claim")
    celery_worker_process(**lease_env)
    time.sleep(LEASE_S + RENEW_S)
    assert services.messages_sweep().requeued_inbound == 0  # a live call keeps its message

    # When the doomed worker is SIGKILLed mid-call
    doomed.popen.kill()
    doomed.wait_exit(timeout=10)
    killed_at = time.monotonic()
    assert services.messages_sweep().requeued_inbound == 0  # its last renewal still holds

    # Then the sweeper takes the message back about one lease later, and it is answered once
    wait_for(
        lambda: services.messages_sweep().requeued_inbound == 1,
        timeout=LEASE_S + 1,
        interval=0.1,
        what="the sweeper to reclaim the message",
    )
    assert time.monotonic() - killed_at > LEASE_S - RENEW_S - 0.2
    wait_for(
        lambda: Message.objects.filter(reply_to=message, status=Status.DELIVERED).exists(), what="the delivered reply"
    )
    message.refresh_from_db()
    assert message.status == Status.ANSWERED
    assert message.attempts == 2
    assert Message.objects.filter(reply_to=message).count() == 1
