"""Search over encrypted history (apps/console/search.py): phrases, filters, keys and rotation."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.console import search as search_module
from apps.console.search import Hit, search
from apps.console.services import note_add
from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.services import conversation_reply
from apps.core import blind_index, crypto
from tests.factories import receive

pytestmark = pytest.mark.django_db


def marked(hit: Hit) -> list[str]:
    return [segment.text for segment in hit.segments if segment.hit]


def test_a_chinese_phrase_finds_the_message_and_marks_it(agent: User) -> None:
    wanted = receive("您好，我上周买的蓝牙耳机左耳没有声音", user="cust-a").message
    receive("耳机很好用，谢谢", user="cust-b")

    (hit,) = search(query="耳机左耳没有", user=agent)

    assert (hit.kind, hit.message_id, hit.conversation_id) == ("message", wanted.pk, wanted.conversation_id)
    assert hit.customer_id == wanted.conversation.customer_id
    assert marked(hit) == ["耳机左耳没有"]


def test_an_english_word_matches_whole_words_in_any_case(agent: User) -> None:
    wanted = receive("Can I get a REFUND for order 1234?").message
    receive("It was refunded yesterday")

    hits = search(query="refund", user=agent)

    assert [h.message_id for h in hits] == [wanted.pk]
    assert marked(hits[0]) == ["REFUND"]


def test_a_phrase_that_spans_two_messages_does_not_match(agent: User) -> None:
    receive("我想要退")
    receive("款可以吗")
    receive("please refund")
    receive("my order")

    assert search(query="我想要退款", user=agent) == []
    assert search(query="refund my order", user=agent) == []
    assert len(search(query="退款", user=agent)) == 0
    assert len(search(query="要退", user=agent)) == 1


def test_the_newest_hits_come_first_up_to_the_limit(agent: User) -> None:
    ids = [receive(f"第{n}次问退货进度", user=f"cust-{n}").message.pk for n in range(5)]

    hits = search(query="退货进度", user=agent, limit=3)

    assert [h.message_id for h in hits] == ids[::-1][:3]


@pytest.mark.parametrize("recent", [100, 0], ids=["in-id-order", "by-the-gin-index"])
def test_candidates_are_read_page_by_page(agent: User, monkeypatch: pytest.MonkeyPatch, recent: int) -> None:
    monkeypatch.setattr(search_module, "_PAGE", 2)
    monkeypatch.setattr(search_module, "_RECENT_FACTOR", recent)
    wanted = receive("物流一直没有更新", user="cust-x").message
    for n in range(5):  # the same bigrams, newer, in an order that is not the phrase
        receive(f"更新一下物流没有{n}", user=f"cust-{n}")

    assert [h.message_id for h in search(query="物流一直没有更新", user=agent)] == [wanted.pk]
    with connection.cursor() as cursor:  # the walk in id order left the planner as it found it
        cursor.execute("SHOW enable_bitmapscan")
        assert cursor.fetchone() == ("on",)


def test_notes_and_customer_names_are_searched(agent: User) -> None:
    conversation = receive("你好", user="cust-wang", display_name="王小明 Wang").message.conversation
    note = note_add(conversation_id=conversation.pk, author=agent, body="客户说王小明是VIP，优先处理")

    hits = search(query="王小明", user=agent)

    assert {(h.kind, h.note_id or h.customer_id) for h in hits} == {
        ("note", note.pk),
        ("customer", conversation.customer_id),
    }
    customer_hit = next(h for h in hits if h.kind == "customer")
    assert customer_hit.conversation_id == conversation.pk
    assert [h.kind for h in search(query="wang", user=agent, kinds=("customer",))] == ["customer"]


def test_notes_on_a_customer_are_searched_and_open_their_latest_conversation(agent: User) -> None:
    from apps.customers import services as customers
    from apps.customers.models import CustomerNote

    first = receive("你好", user="cust-note").message
    later = receive("在吗", channel="wechaty", user="cust-note-wx").message
    person = customers.person_for(customer_id=first.conversation.customer_id)
    customers.customer_note_add(actor=agent, person_id=person.pk, body="老客户，上次的退款已经处理完毕")

    (hit,) = search(query="退款已经", user=agent, kinds=("customer_note",))
    assert (hit.kind, hit.conversation_id) == ("customer_note", first.conversation_id)
    assert marked(hit) == ["退款已经"]
    assert search(query="退款已经", user=agent, kinds=("customer_note",), channel="wechaty") == []
    assert later.conversation_id != hit.conversation_id
    with connection.cursor() as cursor:  # the note's index holds numbers, its body ciphertext
        cursor.execute("SELECT body, search_index::text FROM customers_customernote")
        body, index = cursor.fetchone()
    assert "退款" not in body
    assert "退款" not in index
    assert CustomerNote.objects.get().search_index


def test_a_renamed_customer_is_found_by_the_new_name(agent: User) -> None:
    receive("你好", user="cust-li", display_name="李雷")
    receive("在吗", user="cust-li", display_name="韩梅梅")

    assert search(query="李雷", user=agent, kinds=("customer",)) == []
    assert len(search(query="韩梅梅", user=agent, kinds=("customer",))) == 1


def test_filters_by_date_channel_and_agent(agent: User, make_agent: Callable[[str], User]) -> None:
    bob = make_agent("bob")
    old = receive("发票什么时候开", channel="simulator", user="cust-1").message
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    other_channel = receive("发票什么时候开", channel="wechaty", user="cust-2").message
    conversation = receive("在吗", user="cust-3").message.conversation
    Conversation.objects.filter(pk=conversation.pk).update(assignee=bob)
    by_bob = conversation_reply(
        conversation=conversation, body="发票什么时候开？明天", author_kind=Message.AuthorKind.AGENT, author_id=bob.pk
    )

    def found(**filters: object) -> set[int | None]:
        return {h.message_id for h in search(query="发票", user=agent, **filters)}  # type: ignore[arg-type]

    assert found() == {old.pk, other_channel.pk, by_bob.pk}
    assert found(date_from=timezone.now() - timedelta(days=1)) == {other_channel.pk, by_bob.pk}
    assert found(date_to=timezone.now() - timedelta(days=1)) == {old.pk}
    assert found(channel="wechaty") == {other_channel.pk}
    assert found(agent_id=bob.pk) == {by_bob.pk}
    assert found(agent_id=agent.pk) == set()


def test_the_label_filter_keeps_hits_whose_conversation_or_customer_carries_a_label(agent: User) -> None:
    from apps.customers import services as customers
    from apps.customers.models import Label

    vip, urgent, unused = (Label.objects.create(name=n, colour="#123456") for n in ("VIP", "加急", "未用"))
    on_customer = receive("发票抬头写错了", user="cust-vip").message
    on_conversation = receive("发票还没收到", user="cust-2").message
    unlabelled = receive("发票怎么开", user="cust-3").message
    person = customers.person_for(customer_id=on_customer.conversation.customer_id)
    customers.customer_label_add(actor=agent, person_id=person.pk, label_id=vip.pk)
    customers.conversations_label(actor=agent, conversation_ids=[on_conversation.conversation_id], label_id=urgent.pk)

    def found(*labels: Label, kinds: tuple[str, ...] = ("message",)) -> set[int | None]:
        hits = search(query="发票", user=agent, label_ids=[label.pk for label in labels], kinds=kinds)
        return {h.message_id or h.customer_id for h in hits}

    assert found() == {on_customer.pk, on_conversation.pk, unlabelled.pk}
    assert found(vip) == {on_customer.pk}
    assert found(urgent) == {on_conversation.pk}
    assert found(vip, urgent) == {on_customer.pk, on_conversation.pk}
    assert found(unused) == set()
    Customer.objects.filter(pk=on_customer.conversation.customer_id).update(display_name="发票张")
    call_command("search_reindex", verbosity=0)
    assert found(vip, kinds=("customer",)) == {on_customer.conversation.customer_id}
    assert found(unused, kinds=("customer",)) == set()


def test_only_console_users_search(outsider: User) -> None:
    receive("退款")
    with pytest.raises(PermissionDenied):
        search(query="退款", user=outsider)


def test_a_query_without_a_term_finds_nothing(agent: User) -> None:
    receive("好")
    assert search(query="好", user=agent) == []
    assert search(query="，。 !", user=agent) == []


def test_a_search_with_the_wrong_key_finds_nothing(agent: User, settings: pytest.FixtureRequest) -> None:
    receive("我要退款")
    assert len(search(query="退款", user=agent)) == 1
    settings.DESK_ENCRYPTION_KEYS = f"{crypto.new_key_spec('wrong')},{settings.DESK_ENCRYPTION_KEYS}"  # type: ignore[attr-defined]
    crypto.keyring.cache_clear()
    try:
        assert search(query="退款", user=agent) == []
    finally:
        crypto.keyring.cache_clear()


def test_rotate_keys_rebuilds_the_index(agent: User, settings: pytest.FixtureRequest) -> None:
    message = receive("我要退款", display_name="张三").message
    note_add(conversation_id=message.conversation_id, author=agent, body="张三要退款")
    old_key = blind_index.search_key()
    settings.DESK_ENCRYPTION_KEYS = f"{crypto.new_key_spec('next')},{settings.DESK_ENCRYPTION_KEYS}"  # type: ignore[attr-defined]
    crypto.keyring.cache_clear()
    try:
        assert search(query="退款", user=agent) == []
        call_command("rotate_keys", verbosity=0)

        assert {h.kind for h in search(query="退款", user=agent)} == {"message", "note"}
        assert [h.kind for h in search(query="张三", user=agent, kinds=("customer",))] == ["customer"]
        stale = blind_index.query_parse("退款", key=old_key).terms
        assert not Message.objects.filter(search_index__contains=stale).exists()
    finally:
        crypto.keyring.cache_clear()


def test_search_reindex_builds_rows_written_without_an_index(agent: User) -> None:
    message = receive("客服电话多少").message
    Message.objects.filter(pk=message.pk).update(search_index=[])
    Customer.objects.update(search_index=[])
    assert search(query="客服电话", user=agent) == []

    call_command("search_reindex", verbosity=0)

    assert [h.message_id for h in search(query="客服电话", user=agent)] == [message.pk]


def test_every_write_path_indexes_the_body(agent: User) -> None:
    conversation = Conversation.objects.get(pk=receive("你好").message.conversation_id)
    reply = conversation_reply(conversation=conversation, body="亲，已为您安排退货", author_kind=Message.AuthorKind.BOT)
    reply.refresh_from_db()

    assert reply.search_index == blind_index.index_terms("亲，已为您安排退货")
    assert [h.message_id for h in search(query="安排退货", user=agent)] == [reply.pk]
