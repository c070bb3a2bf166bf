"""The agent inbox's reads and writes through the Django test client: tabs, filters, unread counts,
what it costs in queries, bulk actions, notification switches, canned variables, the landing page."""

import itertools
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.console import canned
from apps.console.admin import CannedResponseForm
from apps.console.models import AgentPreference, CannedResponse, ReadMarker
from apps.conversations.models import Conversation, Customer, Message
from apps.routing.models import QueueTicket, Team
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:console_inbox")
LIST = reverse("admin:console_inbox_list")
BULK = reverse("admin:console_inbox_bulk")
PREFERENCES = reverse("admin:console_inbox_preferences")
_names = itertools.count()


def a_conversation(
    name: str = "", mode: str = Conversation.Mode.BOT, assignee: User | None = None, channel: str = "simulator"
) -> Conversation:
    name = name or f"顾客{next(_names)}"
    customer = Customer.objects.create(channel=channel, external_id=f"ext-{name}", display_name=name)
    return Conversation.objects.create(customer=customer, channel=channel, mode=mode, assignee=assignee)


def says(conversation: Conversation, body: str, direction: str = "in") -> Message:
    author = "customer" if direction == "in" else "bot"
    status = Message.Status.HANDED_OVER if direction == "in" else Message.Status.DELIVERED
    return Message.objects.create(
        conversation=conversation,
        channel=conversation.channel,
        direction=direction,
        author_kind=author,
        status=status,
        body=body,
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return dict(response.json())


def test_the_tabs_split_open_conversations_and_count_them(agent: User, make_agent: Any) -> None:
    bob = make_agent("bob")
    mine = a_conversation("甲", Conversation.Mode.HUMAN, assignee=agent)
    theirs = a_conversation("乙", Conversation.Mode.HUMAN, assignee=bob)
    queued = a_conversation("丙", Conversation.Mode.QUEUED)
    bot = a_conversation("丁", Conversation.Mode.BOT)
    a_conversation("戊", Conversation.Mode.CLOSED)
    client = logged_in(agent)

    tabs = {tab: [r["id"] for r in listed(client, tab=tab)["rows"]] for tab in ("mine", "unassigned", "queued", "all")}

    assert tabs["mine"] == [mine.pk]
    assert set(tabs["unassigned"]) == {queued.pk, bot.pk}
    assert tabs["queued"] == [queued.pk]
    # Waiting for a person first, then the agents', then the bot's; closed ones are not listed.
    assert tabs["all"][0] == queued.pk
    assert set(tabs["all"]) == {mine.pk, theirs.pk, queued.pk, bot.pk}
    assert listed(client)["counts"] == {"mine": 1, "unassigned": 2, "queued": 1, "all": 4}


def test_filters_by_channel_team_sla_and_customer_name(agent: User) -> None:
    team = Team.objects.create(name="售后")
    in_team = a_conversation("王小明", Conversation.Mode.QUEUED)
    QueueTicket.objects.create(conversation=in_team, team=team, queued_at=in_team.created_at)
    other = a_conversation("李四", Conversation.Mode.QUEUED, channel="wecom_kf")
    client = logged_in(agent)

    def ids(**params: Any) -> set[int]:
        return {r["id"] for r in listed(client, tab="all", **params)["rows"]}

    assert ids(team=team.pk) == {in_team.pk}
    assert ids(channel="wecom_kf") == {other.pk}
    assert ids(q="小明") == {in_team.pk}
    assert listed(client, tab="all", q="小明")["counts"]["all"] == 1
    assert ids(sla="breached") == set()  # no SLA policy: no clock runs
    assert listed(client, tab="all", team=team.pk)["rows"][0]["team"] == "售后"


def test_unread_counts_the_customer_messages_after_the_agents_read_marker(agent: User, make_agent: Any) -> None:
    bob = make_agent("bob")
    conversation = a_conversation("甲", Conversation.Mode.HUMAN, assignee=agent)
    first = says(conversation, "在吗")
    says(conversation, "您好", direction="out")
    second = says(conversation, "我的订单呢")
    client = logged_in(agent)
    read = reverse("admin:console_inbox_read", args=[conversation.pk])

    (row,) = listed(client)["rows"]
    assert (row["unread"], row["preview"]) == (2, "我的订单呢")
    assert listed(client)["watch"]["unread"] == 2

    assert client.post(read, {"message": first.pk}).status_code == 200
    assert listed(client)["rows"][0]["unread"] == 1
    client.post(read, {"message": second.pk})
    client.post(read, {"message": first.pk})  # an older tab's marker never moves it back
    assert listed(client)["rows"][0]["unread"] == 0
    assert ReadMarker.objects.get(user=agent).last_read_message_id == second.pk
    # Markers are each agent's own.
    assert listed(logged_in(bob), tab="all")["rows"][0]["unread"] == 2


def test_the_list_costs_the_same_queries_for_many_rows(agent: User, django_assert_max_num_queries: Any) -> None:
    def grow(n: int) -> None:
        for _ in range(n):
            conversation = a_conversation(mode=Conversation.Mode.HUMAN, assignee=agent)
            says(conversation, "你好")
            QueueTicket.objects.create(conversation=conversation, queued_at=conversation.created_at)

    client = logged_in(agent)
    grow(2)
    with django_assert_max_num_queries(20) as small:
        listed(client, tab="all")
    grow(12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        data = listed(client, tab="all")
    assert len(data["rows"]) == 14


def test_the_watch_counts_my_teams_queue_and_the_unowned_one(agent: User) -> None:
    mine, other = Team.objects.create(name="售前"), Team.objects.create(name="售后")
    mine.members.add(agent)
    for team in (mine, None, other):
        conversation = a_conversation(mode=Conversation.Mode.QUEUED)
        QueueTicket.objects.create(conversation=conversation, team=team, queued_at=conversation.created_at)

    assert listed(logged_in(agent))["watch"]["team_queue"] == 2


def test_bulk_assign_and_close_apply_to_each_and_report_refusals(agent: User, make_agent: Any) -> None:
    bob = make_agent("bob")
    first, second = a_conversation(mode=Conversation.Mode.QUEUED), a_conversation(mode=Conversation.Mode.BOT)
    client = logged_in(agent)

    answer = client.post(BULK, {"action": "assign", "ids": [first.pk, second.pk], "assignee": bob.pk}).json()
    assert answer == {"ok": True, "done": 2, "errors": {}}
    assert set(Conversation.objects.values_list("assignee__username", "mode")) == {("bob", "human")}

    answer = client.post(BULK, {"action": "close", "ids": [first.pk, second.pk]}).json()
    assert answer["ok"]
    assert set(Conversation.objects.values_list("mode", flat=True)) == {"closed"}

    refused = client.post(BULK, {"action": "assign", "ids": [first.pk], "assignee": bob.pk}).json()
    assert refused["errors"] == {str(first.pk): "the conversation is closed"}
    assert client.post(BULK, {"action": "explode", "ids": [first.pk]}).status_code == 400


def test_staff_outside_the_agent_role_get_no_inbox(outsider: User) -> None:
    conversation = a_conversation()
    client = logged_in(outsider)

    assert client.get(INBOX).status_code == 403
    assert client.get(LIST).status_code == 403
    assert client.post(BULK, {"action": "close", "ids": [conversation.pk]}).status_code == 403
    assert client.get(reverse("admin:console_inbox_pane", args=[conversation.pk])).status_code == 403
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.BOT


def test_notification_switches_are_kept_per_agent_on_the_server(agent: User, make_agent: Any) -> None:
    bob = make_agent("bob")
    client = logged_in(agent)

    assert client.get(PREFERENCES).json() == {
        "ok": True,
        "notify_assigned": True,
        "notify_message": True,
        "notify_queue": True,
        "sound": True,
    }
    assert client.post(PREFERENCES, {"sound": "false", "notify_queue": "false"}).json()["sound"] is False
    assert AgentPreference.objects.get(user=agent).notify_queue is False
    assert logged_in(bob).get(PREFERENCES).json()["sound"] is True
    assert client.post(PREFERENCES, {"sound": "yes"}).status_code == 400
    # The page renders the switches as they are.
    html = client.get(INBOX).content.decode()
    assert 'data-preference="sound">' in html
    assert 'data-preference="notify_assigned" checked>' in html


def test_the_pane_renders_the_conversation_and_the_customers_past_conversations(agent: User) -> None:
    CannedResponse.objects.create(title="查单", shortcut="order", body="{customer_name}您好，订单{order_no}已发货")
    past = a_conversation("张三", Conversation.Mode.CLOSED)
    current = Conversation.objects.create(customer=past.customer, channel="simulator", mode=Conversation.Mode.QUEUED)

    data = logged_in(agent).get(reverse("admin:console_inbox_pane", args=[current.pk])).json()

    assert data["id"] == current.pk
    assert 'id="conversation-pane"' in data["conversation"]
    assert 'id="inbox-back"' in data["conversation"]
    assert '"shortcut": "order"' in data["conversation"]
    assert '"fill_ins": ["order_no"]' in data["conversation"]
    assert f'data-open-conversation="{past.pk}"' in data["customer"]
    assert 'data-hook="customers"' in data["customer"]


def test_canned_variables_fill_the_known_ones_and_ask_for_the_rest() -> None:
    item = CannedResponse(
        pk=1, title="查单", shortcut="order", body="{customer_name}您好，我是{agent_name}。订单{order_no}：{{已发货}}"
    )

    view = canned.canned_render(canned=item, customer_name="张三", agent_name="小李")

    assert view.fill_ins == ["order_no"]
    assert view.text == "张三您好，我是小李。订单{order_no}：{{已发货}}"
    assert canned.fill(view.text, {"order_no": "A123"}) == "张三您好，我是小李。订单A123：{已发货}"


@pytest.mark.parametrize("body", ["订单{order_no", "订单 order_no}", "{订单号}", "{}"])
def test_a_canned_body_with_unbalanced_braces_or_a_bad_name_is_refused(body: str) -> None:
    with pytest.raises(ValidationError):
        canned.placeholders(body)
    form = CannedResponseForm(data={"title": "t", "shortcut": "t", "body": body})
    assert not form.is_valid()
    assert "body" in form.errors


def test_an_agent_who_signs_in_lands_in_the_inbox_and_an_admin_on_the_index(agent: User) -> None:
    def sign_in(username: str, next_url: str = "/admin/") -> str:
        response = Client().post(
            f"{reverse('admin:login')}?next={next_url}",
            {"username": username, "password": PASSWORD, "next": next_url},
        )
        assert response.status_code == 302
        return str(response["Location"])

    assert sign_in("alice") == INBOX
    assert sign_in("alice", "/admin/console/workspace/") == "/admin/console/workspace/"  # asked for a page
    User.objects.create_superuser("root", password=PASSWORD)
    assert sign_in("root") == "/admin/"
    configurer = User.objects.create_user("carol", password=PASSWORD, is_staff=True)
    configurer.groups.add(Group.objects.get(name="agent"), Group.objects.get_or_create(name="admin")[0])
    assert sign_in("carol") == "/admin/"
    # Admins who may use the console find the inbox from the index.
    assert INBOX in logged_in(configurer).get(reverse("admin:index")).content.decode()
