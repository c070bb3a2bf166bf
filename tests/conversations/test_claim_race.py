"""The merged claim and the compare-and-set reply commit (issue 22, item 2): however workers race
on one customer message, it gets one answer and one audit row, and the audit chain holds."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditLog
from apps.audit.selectors import audit_chain_verify
from apps.conversations import selectors, services
from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import Answer, Turn
from tests.factories import receive
from tests.support.waiting import wait_for

Status = Message.Status


class GatedAnswerer:
    """Call n waits until the test opens ``gates[n - 1]``; calls beyond the gates answer at once."""

    gates: list[threading.Event] = []
    calls = 0

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        GatedAnswerer.calls += 1
        number = GatedAnswerer.calls
        if number <= len(GatedAnswerer.gates):
            assert GatedAnswerer.gates[number - 1].wait(timeout=30), "the test never opened the gate"
        return Answer(text=f"第 {number} 次回答：{question}")


@pytest.fixture
def gated(use_answerer: Callable[[str], None]) -> Iterator[type[GatedAnswerer]]:
    GatedAnswerer.gates = []
    GatedAnswerer.calls = 0
    use_answerer(f"{__name__}.GatedAnswerer")
    yield GatedAnswerer
    for gate in GatedAnswerer.gates:
        gate.set()  # never leave a worker thread waiting


def in_thread(work: Callable[[], None], failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test's assertions
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def settled_once(message: Message) -> None:
    """One bot reply, one exchange audit row for the message, and a chain that verifies."""
    message.refresh_from_db()
    assert message.status == Status.ANSWERED
    assert Message.objects.filter(reply_to=message, author_kind=Message.AuthorKind.BOT).count() == 1
    assert AuditLog.objects.filter(kind=AuditLog.Kind.EXCHANGE, message_id_ref=message.pk).count() == 1
    report = audit_chain_verify()
    assert report.broken is None
    assert report.checked == AuditLog.objects.count()


@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_one_message_answer_it_once() -> None:
    # Given a stored message (its task sits in the broker: no worker runs in this test)
    message = receive("两个工人同时处理", message_id="wx-claim-race", user="cust-claim-race").message
    barrier, failures = threading.Barrier(2), list[BaseException]()

    # When two workers process it at the same moment
    def process() -> None:
        barrier.wait()
        services.inbound_process(message_id=message.pk)

    for thread in [in_thread(process, failures), in_thread(process, failures)]:
        thread.join()

    # Then one of them claimed and answered it, and the other left it alone
    assert not failures
    settled_once(message)
    message.refresh_from_db()
    assert message.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_claim_was_taken_back_does_not_answer_a_second_time(gated: type[GatedAnswerer]) -> None:
    # Given a worker stuck in a long model call on a message
    gated.gates = [threading.Event()]
    message = receive("慢慢想", message_id="wx-lapsed", user="cust-lapsed").message
    failures: list[BaseException] = []
    slow = in_thread(lambda: services.inbound_process(message_id=message.pk), failures)
    wait_for(lambda: gated.calls == 1, what="the slow worker's model call")

    # When its claim is taken back (as the sweeper does once a lease lapses), a second worker
    # claims the message and answers it, and only then the slow call returns
    services.inbound_release(message_id=message.pk, error="lease lapsed")
    services.inbound_process(message_id=message.pk)
    gated.gates[0].set()
    slow.join()

    # Then the slow worker's commit found the message settled: one answer, the second worker's
    assert not failures
    settled_once(message)
    message.refresh_from_db()
    assert message.attempts == 2
    assert Message.objects.get(reply_to=message).body.startswith("第 2 次回答")


@pytest.mark.django_db(transaction=True)
def test_of_two_claims_in_flight_the_first_to_commit_answers(gated: type[GatedAnswerer]) -> None:
    # Given two workers in a model call on one message: the first one's claim was taken back and
    # the second one claimed it again, so it is "processing" for both
    gated.gates = [threading.Event(), threading.Event()]
    message = receive("都在处理", message_id="wx-both", user="cust-both").message
    failures: list[BaseException] = []
    first = in_thread(lambda: services.inbound_process(message_id=message.pk), failures)
    wait_for(lambda: gated.calls == 1, what="the first worker's model call")
    services.inbound_release(message_id=message.pk, error="lease lapsed")
    second = in_thread(lambda: services.inbound_process(message_id=message.pk), failures)
    wait_for(lambda: gated.calls == 2, what="the second worker's model call")

    # When the first one commits, then the second
    gated.gates[0].set()
    first.join()
    gated.gates[1].set()
    second.join()

    # Then the second one's compare-and-set found the message answered, and stayed silent
    assert not failures
    settled_once(message)
    assert Message.objects.get(reply_to=message).body.startswith("第 1 次回答")


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_tasks")
def test_the_first_message_of_a_conversation_reads_no_context(
    monkeypatch: pytest.MonkeyPatch, use_answerer: Callable[[str], None]
) -> None:
    use_answerer("tests.support.answerers.ContextEchoAnswerer")
    reads: list[dict[str, Any]] = []
    read = selectors.conversation_context

    def counted(**kwargs: Any) -> list[Turn]:
        reads.append(kwargs)
        return read(**kwargs)

    monkeypatch.setattr(selectors, "conversation_context", counted)

    # A first contact: the conversation opens with this message, there is nothing before it
    first = receive("第一句", user="cust-ctx").message
    assert reads == []
    assert Message.objects.get(reply_to=first).body == "[] -> 第一句"

    # The next message reads the turns before it
    second = receive("第二句", user="cust-ctx").message
    assert [r["before_id"] for r in reads] == [second.pk]
    assert Message.objects.get(reply_to=second).body.startswith("[customer:第一句 | assistant:[] -> 第一句] -> 第二句")

    # A conversation closed and opened again: the message that reopens it has turns before it
    # (DESK_REOPEN_GRACE_S), the one that opens a new conversation has none
    Conversation.objects.update(mode=Conversation.Mode.CLOSED)
    third = receive("又来了", user="cust-ctx").message
    assert len(reads) == (2 if third.conversation_id == first.conversation_id else 1)
