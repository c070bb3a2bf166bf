"""The console's pages and actions inside the admin: who gets in, what they see, what it costs."""

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from apps.console.models import CannedResponse, Note
from apps.conversations.models import Conversation, Customer, Message
from apps.moderation.models import Flag, Term

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:console_workspace_changelist")
CONVERSATIONS = reverse("admin:console_conversations")


def a_conversation(name: str = "张三", mode: str = Conversation.Mode.BOT) -> Conversation:
    customer = Customer.objects.create(channel="simulator", external_id=f"ext-{name}", display_name=name)
    return Conversation.objects.create(customer=customer, channel="simulator", mode=mode)


def a_message(conversation: Conversation, body: str, **fields: Any) -> Message:
    values = {"direction": "in", "author_kind": "customer", "status": Message.Status.HANDED_OVER, **fields}
    return Message.objects.create(conversation=conversation, channel=conversation.channel, body=body, **values)


def a_flag(message: Message, *, term: str, category: str = "abuse", severity: int = 3) -> Flag:
    start = message.body.index(term)
    hit = {
        "term": term,
        "category": category,
        "severity": severity,
        "action": "flag",
        "span": [start, start + len(term)],
    }
    return Flag.objects.create(
        message=message, direction="in", verdict="review", text=message.body, evidence={"hits": [hit]}
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_migration_creates_the_agent_group_with_the_console_permission() -> None:
    from django.contrib.auth.models import Group

    codenames = set(Group.objects.get(name="agent").permissions.values_list("codename", flat=True))
    assert {"use_console", "view_conversation", "view_flag"} <= codenames


@pytest.mark.parametrize("url", [QUEUE, CONVERSATIONS])
def test_anonymous_visitors_are_sent_to_the_admin_login(url: str) -> None:
    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_agent_role_get_no_console_page_and_no_action(outsider: User) -> None:
    conversation = a_conversation()
    flag = a_flag(a_message(conversation, "你这个骗子"), term="骗子")
    client = logged_in(outsider)

    assert client.get(QUEUE).status_code == 403
    assert client.get(CONVERSATIONS).status_code == 403
    assert client.get(reverse("admin:console_conversation", args=[conversation.pk])).status_code == 403
    take_over = reverse("admin:console_conversation_action", args=[conversation.pk, "take-over"])
    assert client.post(take_over).status_code == 403
    assert client.post(reverse("admin:console_flag_action", args=[flag.pk, "confirm"])).status_code == 403
    conversation.refresh_from_db()
    flag.refresh_from_db()
    assert (conversation.mode, flag.status) == (Conversation.Mode.BOT, Flag.Status.PENDING)
    # Nor does the admin index offer them the console.
    assert QUEUE not in client.get(reverse("admin:index")).content.decode()


def test_an_agent_sees_the_console_in_the_admin_index(agent: User) -> None:
    assert QUEUE in logged_in(agent).get(reverse("admin:index")).content.decode()


def test_the_queue_highlights_hits_and_shows_context(agent: User) -> None:
    conversation = a_conversation()
    a_message(conversation, "请问发货了吗", status=Message.Status.ANSWERED)
    flagged = a_message(conversation, "你们就是骗子，快退钱")
    a_flag(flagged, term="骗子", category="fraud", severity=4)

    html = logged_in(agent).get(QUEUE).content.decode()

    assert "你们就是<mark>骗子</mark>，快退钱" in html
    assert "请问发货了吗" in html  # context before the flagged message
    assert "sev-4" in html


def test_queue_filters_by_category_severity_and_age(agent: User) -> None:
    conversation = a_conversation()
    fraud = a_flag(a_message(conversation, "骗子骗子"), term="骗子", category="fraud", severity=5)
    abuse = a_flag(a_message(conversation, "笨蛋客服"), term="笨蛋", category="abuse", severity=2)
    Flag.objects.filter(pk=abuse.pk).update(created_at=fraud.created_at.replace(year=2020))
    client = logged_in(agent)

    def shown(query: str) -> set[int]:
        html = client.get(f"{QUEUE}?{query}&fragment=1").content.decode()
        return {flag.pk for flag in (fraud, abuse) if f'data-flag-id="{flag.pk}"' in html}

    assert shown("category=fraud") == {fraud.pk}
    assert shown("category=abuse") == {abuse.pk}
    assert shown("severity=4") == {fraud.pk}
    assert shown("age=24h") == {fraud.pk}
    assert shown("") == {fraud.pk, abuse.pk}


def test_the_queue_costs_the_same_queries_for_one_flag_or_thirty(
    agent: User, django_assert_max_num_queries: Any
) -> None:
    client = logged_in(agent)
    for i in range(30):
        conversation = a_conversation(name=f"客户{i}")
        a_message(conversation, "前文", status=Message.Status.ANSWERED)
        a_flag(a_message(conversation, f"骗子{i}"), term="骗子")

    with django_assert_max_num_queries(8):
        response = client.get(f"{QUEUE}?fragment=1")
    assert response.content.decode().count("flag-row") == 30


def test_the_conversation_list_shows_unread_counts_and_costs_fixed_queries(
    agent: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(20):
        conversation = a_conversation(name=f"客户{i}", mode=Conversation.Mode.QUEUED)
        for _ in range(3):
            a_message(conversation, "在吗")
    client = logged_in(agent)

    with django_assert_max_num_queries(8):
        html = client.get(f"{CONVERSATIONS}?mode=queued&fragment=1").content.decode()
    assert html.count('<span class="unread">3</span>') == 20


def test_flag_actions_confirm_dismiss_and_blacklist(agent: User) -> None:
    conversation = a_conversation()
    one = a_flag(a_message(conversation, "你这个骗子"), term="骗子")
    two = a_flag(a_message(conversation, "笨蛋"), term="笨蛋")
    three = a_flag(a_message(conversation, "加我微信 abc"), term="微信")
    # Blacklisting is the admin role's: this agent also holds it (tests/security checks the split).
    agent.user_permissions.add(Permission.objects.get(content_type__app_label="moderation", codename="add_term"))
    client = logged_in(agent)

    def act(flag: Flag, verb: str, **data: str) -> int:
        return client.post(reverse("admin:console_flag_action", args=[flag.pk, verb]), data).status_code

    assert act(one, "confirm") == 200
    assert act(two, "dismiss") == 200
    assert act(three, "term", text="加我微信", category="pii", action="hand_over") == 200
    statuses = dict(Flag.objects.values_list("pk", "status"))
    assert statuses == {one.pk: "confirmed", two.pk: "dismissed", three.pk: "confirmed"}
    term = Term.objects.get(text="加我微信")
    assert (term.category, term.action) == ("pii", "hand_over")
    assert act(three, "term", text="", category="pii") == 400


def test_the_timeline_returns_only_what_is_newer_than_the_ids_seen(agent: User) -> None:
    conversation = a_conversation()
    first = a_message(conversation, "第一条")
    second = a_message(conversation, "第二条")
    Note.objects.create(conversation=conversation, author=agent, body="VIP 客户")
    url = reverse("admin:console_conversation_timeline", args=[conversation.pk])

    data = logged_in(agent).get(f"{url}?after={first.pk}").json()

    assert [m["id"] for m in data["messages"]] == [second.pk]
    assert [n["body"] for n in data["notes"]] == ["VIP 客户"]
    assert data["state"]["mode"] == "bot"


def test_the_conversation_page_offers_canned_responses(agent: User) -> None:
    CannedResponse.objects.create(title="问候", shortcut="hi", body="{customer_name}您好，很高兴为您服务")
    conversation = a_conversation()

    response = logged_in(agent).get(reverse("admin:console_conversation", args=[conversation.pk]))

    # The composer's "/" list reads them from the page, the customer's name filled in.
    found = re.search(r'id="canned-data"[^>]*>(.*?)</script>', response.content.decode())
    assert found is not None
    offered = json.loads(found.group(1))
    assert [(c["shortcut"], c["text"], c["fill_ins"]) for c in offered] == [("hi", "张三您好，很高兴为您服务", [])]
