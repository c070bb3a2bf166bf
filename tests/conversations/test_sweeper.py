"""Nothing is lost when a worker dies: the sweeper finishes what a crash left behind."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Conversation, Message
from tests.factories import receive
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for

Status = Message.Status


def age(message: Message, seconds: int) -> None:
    Message.objects.filter(pk=message.pk).update(status_changed_at=timezone.now() - timedelta(seconds=seconds))


def past_lease() -> int:
    """Seconds just past the processing lease: an unrenewed claim this old is orphaned."""
    return settings.DESK_PROCESSING_LEASE_SECONDS + 1


@pytest.mark.usefixtures("eager_tasks")
class TestSweeper:
    def test_it_leaves_fresh_and_finished_work_alone(self) -> None:
        receive()

        report = services.messages_sweep()

        assert report == services.SweepReport(requeued_inbound=0, requeued_outbound=0, given_up=0)

    def test_it_finishes_a_message_whose_worker_died_mid_task(self, settings: object) -> None:
        message = receive("没人理我", message_id="wx-orphan").message
        Message.objects.filter(reply_to=message).delete()
        Message.objects.filter(pk=message.pk).update(status=Status.PROCESSING, attempts=1)
        age(message, past_lease())

        report = services.messages_sweep()

        message.refresh_from_db()
        assert report.requeued_inbound == 1
        assert message.status == Status.ANSWERED
        assert Message.objects.filter(reply_to=message, status=Status.DELIVERED).count() == 1

    def test_it_does_not_steal_a_claim_within_its_lease(self) -> None:
        message = receive().message
        Message.objects.filter(pk=message.pk).update(status=Status.PROCESSING)
        age(message, settings.DESK_PROCESSING_LEASE_SECONDS - 10)

        assert services.messages_sweep().requeued_inbound == 0

    def test_it_redelivers_an_outbound_message_stuck_before_delivery(self) -> None:
        message = receive().message
        reply = Message.objects.get(reply_to=message)
        Message.objects.filter(pk=reply.pk).update(status=Status.PROCESSING, delivered_at=None)
        age(reply, 31)

        report = services.messages_sweep()

        reply.refresh_from_db()
        assert report.requeued_outbound == 1
        assert reply.status == Status.DELIVERED

    def test_it_gives_up_after_the_attempt_limit_and_hands_the_customer_to_a_human(self) -> None:
        message = receive().message
        Message.objects.filter(pk=message.pk).update(status=Status.PROCESSING, attempts=4)
        Message.objects.filter(reply_to=message).delete()
        age(message, past_lease())

        report = services.messages_sweep()

        message.refresh_from_db()
        assert report.given_up == 1
        assert message.status == Status.FAILED
        assert message.conversation.mode == Conversation.Mode.QUEUED
        (notice,) = Message.objects.filter(reply_to=message)
        assert notice.author_kind == Message.AuthorKind.SYSTEM


@pytest.mark.live
def test_a_worker_killed_mid_task_leaves_a_message_the_sweeper_finishes(
    celery_worker_process: Callable[..., LiveProcess],
) -> None:
    # Given a worker whose answerer kills the process before the task is acknowledged
    doomed = celery_worker_process(DESK_ANSWERER="tests.support.answerers.CrashingAnswerer")

    # When a customer message reaches it
    message = receive("订单什么时候发货？", message_id="wx-crash").message
    assert doomed.wait_exit(timeout=30) == 13

    # Then the message is left claimed and unanswered
    message.refresh_from_db()
    assert message.status == Status.PROCESSING
    assert not Message.objects.filter(reply_to=message).exists()

    # When a healthy worker runs and the sweeper passes after the lease
    celery_worker_process()
    report = services.messages_sweep(now=timezone.now() + timedelta(seconds=past_lease()))
    assert report.requeued_inbound == 1

    # Then it is answered and delivered exactly once
    wait_for(
        lambda: Message.objects.filter(reply_to=message, status=Status.DELIVERED).exists(), what="the delivered reply"
    )
    message.refresh_from_db()
    assert message.status == Status.ANSWERED
    assert Message.objects.filter(reply_to=message).count() == 1
    assert Message.objects.get(reply_to=message).status == Status.DELIVERED
