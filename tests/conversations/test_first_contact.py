"""A customer's first message: what it costs, and that two of them at once still make one conversation
(issue 22, docs/performance-plan.md item 5)."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from apps.conversations.models import Conversation, Customer, Message
from apps.core import blind_index
from tests.factories import receive
from tests.support.counting import round_trips


@pytest.mark.django_db
def test_a_first_contact_costs_a_fixed_number_of_statements(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    with round_trips(monkeypatch) as counted, django_capture_on_commit_callbacks(execute=False):  # type: ignore[attr-defined]
        received = receive("你好", user="cust-new", display_name="小王")
    queries = counted.statements
    assert received.created
    conversation = Conversation.objects.select_related("customer").get()
    # The raw insert fills what the ORM's would: the name's blind index, the timestamps.
    customer = conversation.customer
    assert customer.display_name == "小王"
    assert Customer.objects.filter(search_index__contains=blind_index.query_parse("小王").terms).get() == customer
    assert customer.created_at is not None
    assert customer.updated_at is not None
    assert conversation.last_message_at is not None
    # One transaction (a savepoint here, inside the test's; no duplicate check before it): the open
    # conversation look-up (none), the customer insert that tells a new customer from a known one,
    # the conversation insert (its recency set there), the message insert. A customer created in this
    # transaction cannot have a conversation another one could see, so no lock, re-read, reopen
    # look-up or savepoint. 17 before issue 22's item 5 (get_or_create's savepoint and
    # look-ups, the customer lock, the conversation read twice, the recently closed one).
    assert len(queries) <= 6, queries
    assert queries.count("SAVEPOINT") <= 1, queries
    # The customer's rate-limit bucket.
    assert len(counted.redis) <= 1, counted.redis


@pytest.mark.django_db
def test_a_known_customer_without_an_open_conversation_takes_the_locked_path() -> None:
    first = receive("你好", user="cust-back").message
    Conversation.objects.filter(pk=first.conversation_id).update(mode=Conversation.Mode.CLOSED)

    again = receive("还在吗", user="cust-back", display_name="老李").message

    assert again.conversation_id != first.conversation_id
    assert Customer.objects.get(external_id="cust-back").display_name == "老李"
    assert Conversation.objects.exclude(mode=Conversation.Mode.CLOSED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_messages_of_a_new_customer_share_one_conversation() -> None:
    senders = 2
    results: list[Message] = []
    barrier = threading.Barrier(senders)

    def send(n: int) -> None:
        barrier.wait()
        try:
            results.append(receive(f"第{n}条", message_id=f"wx-first-{n}", user="cust-twins").message)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == senders
    assert Customer.objects.filter(external_id="cust-twins").count() == 1
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == senders
    assert {m.conversation_id for m in results} == {Conversation.objects.get().pk}


@pytest.mark.django_db
def test_a_redelivery_is_turned_away_by_the_index_and_leaves_the_callers_transaction_usable(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    # No look-up before the insert: the unique index turns the copy away and rolls back its part.
    with django_capture_on_commit_callbacks(execute=False) as first_hooks:  # type: ignore[attr-defined]
        first = receive("你好", message_id="wx-again", user="cust-again", display_name="小李")
    with transaction.atomic(), django_capture_on_commit_callbacks(execute=False) as again_hooks:  # type: ignore[attr-defined]
        again = receive("你好", message_id="wx-again", user="cust-again", display_name="李四")
        # The caller's own transaction goes on (a kf page of several messages is one).
        later = receive("还有一个问题", message_id="wx-later", user="cust-again")

    assert first.created
    assert not again.created
    assert again.message.pk == first.message.pk
    assert later.created
    assert later.message.conversation_id == first.message.conversation_id
    assert Customer.objects.get().display_name == "小李"  # the copy's name was rolled back with it
    assert Message.objects.filter(channel_message_id="wx-again").count() == 1
    # What the copy scheduled was rolled back with it: only the later message's processing and its
    # two websocket nudges remain, as many as the first message scheduled.
    scheduled = [hook.__qualname__.split(".")[0] for hook in again_hooks]
    assert scheduled == ["enqueue_on_commit", "publish_on_commit", "publish_on_commit"]
    assert len(first_hooks) == 3
