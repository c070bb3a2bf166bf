"""The inbox's search box, labels on its list, the label filter and the bulk label action, through
the Django test client (apps/console/inbox_search.py, inbox.py, inbox_services.py)."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.console.services import note_add
from apps.conversations.models import Conversation, Message
from apps.customers import services as customers
from apps.customers.models import ConversationLabel
from apps.wechat.models import WechatAccount
from tests.factories import LabelFactory, OfficialAccountFactory, WechatContactFactory, receive

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:console_inbox")
LIST = reverse("admin:console_inbox_list")
SEARCH = reverse("admin:console_inbox_search")
BULK = reverse("admin:console_inbox_bulk")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def searched(client: Client, q: str, **params: Any) -> dict[str, Any]:
    response = client.get(SEARCH, {"q": q, **params})
    assert response.status_code == 200
    return dict(response.json())


def marked(hit: dict[str, Any]) -> list[str]:
    return [segment["text"] for segment in hit["segments"] if segment["hit"]]


def test_a_chinese_phrase_finds_the_message_with_the_customer_and_the_match_marked(agent: User) -> None:
    wanted = receive("你好，我要开发票，发票抬头写公司名", user="cust-a", display_name="张三").message
    receive("发票已经收到了", user="cust-b", display_name="李四")

    (hit,) = searched(logged_in(agent), "发票抬头")["hits"]

    assert hit["kind"] == "message"
    assert (hit["conversation_id"], hit["message_id"]) == (wanted.conversation_id, wanted.pk)
    assert (hit["customer"], hit["channel"]) == ("张三", "simulator")
    assert marked(hit) == ["发票抬头"]


def test_an_english_word_matches_in_any_case_and_notes_come_as_their_own_kind(agent: User) -> None:
    message = receive("Where is my INVOICE?", user="cust-a").message
    note = note_add(conversation_id=message.conversation_id, author=agent, body="sent the invoice by mail")
    receive("invoiced already", user="cust-b")  # another word

    hits = searched(logged_in(agent), "invoice")["hits"]

    assert {(h["kind"], h["message_id"], h["note_id"]) for h in hits} == {
        ("message", message.pk, None),
        ("note", None, note.pk),
    }
    assert [marked(h) for h in hits if h["kind"] == "message"] == [["INVOICE"]]


def test_a_phrase_split_over_two_messages_is_not_found(agent: User) -> None:
    receive("我想开发票", user="cust-a")
    receive("抬头写公司", user="cust-a")

    assert searched(logged_in(agent), "发票抬头")["hits"] == []
    assert len(searched(logged_in(agent), "发票")["hits"]) == 1


def test_one_chinese_character_is_too_short_to_search(agent: User) -> None:
    receive("发票", user="cust-a")

    assert searched(logged_in(agent), "票") == {"q": "票", "too_short": True, "hits": []}


def test_the_lists_channel_and_label_filters_and_the_dates_and_agent_narrow_the_search(
    agent: User, make_agent: Any
) -> None:
    bob = make_agent("bob")
    sim = receive("发票抬头错了", user="cust-a").message
    other = receive("发票抬头错了", user="cust-b", channel="api").message
    label = LabelFactory.create(name="发票")
    customers.conversations_label(actor=agent, conversation_ids=[other.conversation_id], label_id=label.pk)
    Conversation.objects.filter(pk=sim.conversation_id).update(assignee=bob)
    client = logged_in(agent)

    def found(**params: Any) -> set[int]:
        return {h["message_id"] for h in searched(client, "发票抬头", **params)["hits"]}

    assert found() == {sim.pk, other.pk}
    assert found(channel="simulator") == {sim.pk}
    assert found(label=label.pk) == {other.pk}
    assert found(agent=bob.pk) == {sim.pk}
    today = timezone.localdate()
    assert found(date_from=today.isoformat(), date_to=today.isoformat()) == {sim.pk, other.pk}
    assert found(date_to=(today - timedelta(days=1)).isoformat()) == set()
    assert found(date_from=(today + timedelta(days=1)).isoformat()) == set()


def test_the_account_filter_narrows_the_list_its_counts_and_every_kind_of_search_hit(
    agent: User, django_assert_max_num_queries: Any
) -> None:
    shop, club = OfficialAccountFactory.create(name="商城"), OfficialAccountFactory.create(name="会员")

    def wrote(account: WechatAccount, user: str) -> Message:
        message = receive("发票抬头错了", channel="official_account", user=user, display_name=f"发票抬头{user}").message
        WechatContactFactory.create(account=account, customer=message.conversation.customer)
        return message

    at_shop, at_club = wrote(shop, "o-shop"), wrote(club, "o-club")
    elsewhere = receive("发票抬头错了", user="cust-a").message.conversation_id
    note_add(conversation_id=at_club.conversation_id, author=agent, body="发票抬头 已改")
    person = customers.person_for(customer_id=at_club.conversation.customer_id)
    customers.customer_note_add(actor=agent, person_id=person.pk, body="发票抬头 要开专票")
    Conversation.objects.update(mode=Conversation.Mode.QUEUED)
    client = logged_in(agent)

    page = client.get(INBOX).content.decode()
    assert f'value="official_account:{club.app_id}">会员<' in page
    with django_assert_max_num_queries(30) as plain:
        client.get(LIST, {"tab": "all"})
    with django_assert_max_num_queries(len(plain.captured_queries)):
        listed = client.get(LIST, {"tab": "queued", "account": f"official_account:{club.app_id}"}).json()
    assert [r["id"] for r in listed["rows"]] == [at_club.conversation_id]
    assert listed["counts"] == {"mine": 0, "unassigned": 1, "queued": 1, "all": 1}

    def hits(account: str) -> set[tuple[str, int | None]]:
        found = searched(client, "发票抬头", account=account)["hits"]
        return {(h["kind"], h["conversation_id"]) for h in found}

    club_id, shop_id = at_club.conversation_id, at_shop.conversation_id
    assert hits(f"official_account:{club.app_id}") == {
        ("message", club_id), ("note", club_id), ("customer", club_id), ("customer_note", club_id)
    }  # fmt: skip
    assert hits(f"official_account:{shop.app_id}") == {("message", shop_id), ("customer", shop_id)}
    assert ("message", elsewhere) in hits("")
    assert hits("official_account:nobody") == set()


def test_staff_outside_the_console_may_not_search(outsider: User) -> None:
    client = logged_in(outsider)
    assert client.get(SEARCH, {"q": "发票抬头"}).status_code == 403
    assert client.get(SEARCH, {"q": "票"}).status_code == 403


def test_a_search_costs_a_bounded_number_of_queries(agent: User, django_assert_max_num_queries: Any) -> None:
    for n in range(2):
        receive(f"发票抬头 {n}", user=f"cust-{n}")
    client = logged_in(agent)
    with django_assert_max_num_queries(30) as few:
        assert len(searched(client, "发票抬头")["hits"]) == 2
    for n in range(2, 25):
        receive(f"发票抬头 {n}", user=f"cust-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(searched(client, "发票抬头")["hits"]) == 25


def test_rows_carry_their_labels_and_the_customers_and_the_filter_finds_either(agent: User) -> None:
    on_conversation = receive("你好", user="cust-a").message.conversation
    on_customer = receive("你好", user="cust-b").message.conversation
    unlabelled = receive("你好", user="cust-c").message.conversation
    vip, urgent = LabelFactory.create(name="VIP", colour="#ffeb3b"), LabelFactory.create(name="加急")
    customers.conversations_label(actor=agent, conversation_ids=[on_conversation.pk], label_id=vip.pk)
    person = customers.person_for(customer_id=on_customer.customer_id)
    customers.customer_label_add(actor=agent, person_id=person.pk, label_id=vip.pk)
    customers.conversations_label(actor=agent, conversation_ids=[on_customer.pk], label_id=urgent.pk)
    client = logged_in(agent)

    rows = {r["id"]: r for r in client.get(LIST, {"tab": "all"}).json()["rows"]}
    assert rows[on_conversation.pk]["labels"] == [{"id": vip.pk, "name": "VIP", "colour": "#ffeb3b"}]
    assert rows[on_conversation.pk]["customer_labels"] == []
    assert [lb["name"] for lb in rows[on_customer.pk]["labels"]] == ["加急"]
    assert [lb["name"] for lb in rows[on_customer.pk]["customer_labels"]] == ["VIP"]
    assert rows[unlabelled.pk]["labels"] == rows[unlabelled.pk]["customer_labels"] == []

    filtered = client.get(LIST, {"tab": "all", "label": str(vip.pk)}).json()
    assert {r["id"] for r in filtered["rows"]} == {on_conversation.pk, on_customer.pk}
    assert filtered["counts"]["all"] == 2
    assert [r["id"] for r in client.get(LIST, {"tab": "all", "label": str(urgent.pk)}).json()["rows"]] == [
        on_customer.pk
    ]


def test_labels_cost_no_query_per_row(agent: User, django_assert_max_num_queries: Any) -> None:
    label = LabelFactory.create()

    def grow(n: int) -> None:
        for _ in range(n):
            conversation = receive("你好", user=f"cust-{Message.objects.count()}").message.conversation
            customers.conversations_label(actor=agent, conversation_ids=[conversation.pk], label_id=label.pk)
            person = customers.person_for(customer_id=conversation.customer_id)
            customers.customer_label_add(actor=agent, person_id=person.pk, label_id=label.pk)

    client = logged_in(agent)
    grow(2)
    with django_assert_max_num_queries(25) as few:
        client.get(LIST, {"tab": "all"})
    grow(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(LIST, {"tab": "all"}).json()["rows"]) == 12


def test_the_bulk_label_action_labels_and_unlabels_each_conversation_audited(agent: User) -> None:
    first = receive("你好", user="cust-a").message.conversation
    second = receive("你好", user="cust-b").message.conversation
    label = LabelFactory.create(name="发票")
    client = logged_in(agent)

    added = client.post(BULK, {"action": "label", "label": label.pk, "ids": [first.pk, second.pk]}).json()

    assert added == {"ok": True, "done": 2, "errors": {}}
    assert set(ConversationLabel.objects.filter(label=label).values_list("conversation_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    audited = AuditLog.objects.filter(event=AuditEvent.CONVERSATION_LABEL_ADDED, actor_id=agent.pk)
    assert set(audited.values_list("conversation_id_ref", flat=True)) == {first.pk, second.pk}

    removed = client.post(BULK, {"action": "label", "label": label.pk, "label_op": "remove", "ids": [first.pk]})
    assert removed.json()["ok"] is True
    assert list(ConversationLabel.objects.values_list("conversation_id", flat=True)) == [second.pk]
    assert AuditLog.objects.filter(event=AuditEvent.CONVERSATION_LABEL_REMOVED, conversation_id_ref=first.pk).exists()


def test_the_bulk_label_action_reports_an_unknown_label_or_conversation(agent: User) -> None:
    known = receive("你好", user="cust-a").message.conversation
    label = LabelFactory.create()
    client = logged_in(agent)

    unknown_label = client.post(BULK, {"action": "label", "label": 999999, "ids": [known.pk]}).json()
    assert unknown_label["ok"] is False
    assert unknown_label["errors"] == {str(known.pk): "未知标签。"}

    mixed = client.post(BULK, {"action": "label", "label": label.pk, "ids": [known.pk, 999999]}).json()
    assert (mixed["done"], list(mixed["errors"])) == (1, ["999999"])
    assert not ConversationLabel.objects.filter(conversation_id=999999).exists()
