"""A channel plugs into the spine through settings alone: DESK_CHANNEL_ADAPTERS names its adapter.

The adapter below exists only in this test module. Registering it makes the spine store, answer and
deliver its customers' messages and call its conversation_changed hook after a change commits,
without a line of the spine knowing it.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.test import Client

from apps.console import services as console
from apps.conversations import channels, selectors, tasks
from apps.conversations.channels import (
    ChannelAccount,
    ChannelAdapter,
    Outbound,
    PermanentDeliveryError,
    TransientDeliveryError,
    outbound_text,
)
from apps.conversations.models import Conversation, Customer, Message
from tests.factories import ConversationFactory, receive

CHANNEL = "pigeon"


@dataclass
class Call:
    hook: str
    args: dict[str, Any]


class PigeonAdapter(ChannelAdapter):
    channel = CHANNEL
    label = "Carrier pigeon"
    calls: ClassVar[list[Call]] = []
    # How many hook calls fail transiently before one goes through (the spine task retries).
    flaky_hooks: ClassVar[int] = 0
    refuse: ClassVar[bool] = False

    def send(self, outbound: Outbound) -> None:
        PigeonAdapter.calls.append(
            Call("send", {"to": outbound.customer_external_id, "text": outbound_text(outbound).text})
        )

    def conversation_changed(self, *, conversation_id: int, mode: str, assignee_id: int | None) -> None:
        if PigeonAdapter.refuse:
            raise PermanentDeliveryError("the pigeon will not fly")
        if PigeonAdapter.flaky_hooks > 0:
            PigeonAdapter.flaky_hooks -= 1
            raise TransientDeliveryError("the pigeon is out")
        PigeonAdapter.calls.append(
            Call("conversation_changed", {"conversation_id": conversation_id, "mode": mode, "assignee_id": assignee_id})
        )

    # Two lofts; a customer's external id says which one they wrote to ("north-7").
    def accounts(self) -> list[ChannelAccount]:
        return [ChannelAccount("north", "北塔"), ChannelAccount("south", "南塔")]

    def account_customers(self, *, key: str) -> QuerySet[Any, str] | None:
        if key not in ("north", "south"):
            return None
        customers = Customer.objects.filter(channel=CHANNEL, external_id__startswith=f"{key}-")
        return customers.values_list("external_id", flat=True)


@pytest.fixture
def pigeon(settings: Any) -> type[PigeonAdapter]:
    settings.DESK_CHANNEL_ADAPTERS = {
        **settings.DESK_CHANNEL_ADAPTERS,
        CHANNEL: f"{__name__}.PigeonAdapter",
    }
    PigeonAdapter.calls = []
    PigeonAdapter.flaky_hooks = 0
    PigeonAdapter.refuse = False
    return PigeonAdapter


@pytest.fixture
def agent(transactional_db: None) -> User:
    return User.objects.create_user("alice", is_staff=True)


@pytest.mark.usefixtures("eager_tasks")
def test_a_channel_registered_in_settings_gets_its_replies_and_conversation_changes(
    pigeon: type[PigeonAdapter], agent: User
) -> None:
    received = receive("你好", channel=CHANNEL, user="coo-1")

    reply = Message.objects.get(reply_to=received.message)
    assert reply.status == Message.Status.DELIVERED
    assert pigeon.calls == [Call("send", {"to": "coo-1", "text": reply.body})]

    conversation_id = received.message.conversation_id
    console.conversation_take_over(conversation_id=conversation_id, agent=agent)
    console.conversation_close(conversation_id=conversation_id, agent=agent)

    assert [call for call in pigeon.calls if call.hook == "conversation_changed"] == [
        Call("conversation_changed", {"conversation_id": conversation_id, "mode": "human", "assignee_id": agent.pk}),
        Call("conversation_changed", {"conversation_id": conversation_id, "mode": "closed", "assignee_id": agent.pk}),
    ]


@pytest.mark.django_db
def test_a_hook_that_fails_transiently_is_retried_and_a_refusal_is_not(
    pigeon: type[PigeonAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    agent = User.objects.create_user("bob", is_staff=True)
    conversation: Conversation = ConversationFactory.create(customer__channel=CHANNEL, mode="human", assignee=agent)
    args = (conversation.pk, "human", agent.pk)
    pigeon.flaky_hooks = 2

    # Run eagerly, Celery's retry runs the task again at once: two failures, then it goes through.
    tasks.channel_conversation_changed.apply(args=args)
    delivered = list(pigeon.calls)
    pigeon.refuse = True
    refused = tasks.channel_conversation_changed.apply(args=args)

    assert pigeon.flaky_hooks == 0
    assert delivered == [
        Call("conversation_changed", {"conversation_id": conversation.pk, "mode": "human", "assignee_id": agent.pk})
    ]
    assert refused.state == "SUCCESS"  # a permanent refusal is logged, never retried
    assert pigeon.calls == delivered
    assert "the pigeon will not fly" in caplog.text


@pytest.mark.usefixtures("eager_tasks")
def test_no_task_is_scheduled_for_a_channel_whose_adapter_leaves_the_hook_alone(
    agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    received = receive("你好", channel="simulator", user="sim-1")
    assert not channels.overrides_hook("simulator", "conversation_changed")
    assert channels.overrides_hook("wecom_kf", "conversation_changed")

    with django_capture_on_commit_callbacks() as callbacks:
        console.conversation_take_over(conversation_id=received.message.conversation_id, agent=agent)

    # The websocket nudges only: no channel task for the simulator.
    assert all("channel_conversation_changed" not in repr(cb) for cb in callbacks)


@pytest.mark.django_db
def test_the_channel_choices_are_the_configured_adapters(pigeon: type[PigeonAdapter]) -> None:
    kinds = [kind for kind, _ in Customer._meta.get_field("channel").choices or []]
    assert kinds == [*["simulator", "official_account", "wecom_kf", "wechaty"], CHANNEL]
    assert dict(channels.channel_choices())[CHANNEL] == "Carrier pigeon"


@pytest.mark.django_db
def test_the_inbound_api_takes_a_registered_channel_and_refuses_an_unknown_one(
    pigeon: type[PigeonAdapter], client: Client, settings: Any
) -> None:
    auth = {"Authorization": f"Bearer {settings.DESK_INBOUND_API_TOKEN}"}
    body = {"channel_message_id": "m-1", "external_user_id": "coo-3", "text": "你好"}

    known = client.post(
        "/api/inbound/messages", {**body, "channel": CHANNEL}, content_type="application/json", headers=auth
    )
    unknown = client.post(
        "/api/inbound/messages", {**body, "channel": "telex"}, content_type="application/json", headers=auth
    )

    assert known.status_code == 202
    assert Conversation.objects.get().channel == CHANNEL
    assert unknown.status_code == 422
    assert "unknown channel" in unknown.content.decode()


def test_an_adapter_that_is_not_a_channel_adapter_is_refused(settings: Any) -> None:
    settings.DESK_CHANNEL_ADAPTERS = {"odd": "collections.OrderedDict"}
    with pytest.raises(TypeError, match="not a ChannelAdapter"):
        channels.get_adapter("odd")


@pytest.mark.django_db
def test_a_channels_accounts_are_listed_and_filter_its_conversations_in_one_query(
    pigeon: type[PigeonAdapter], django_assert_num_queries: Any
) -> None:
    north = {
        ConversationFactory.create(customer__channel=CHANNEL, customer__external_id=f"north-{i}").pk for i in (1, 2)
    }
    south = ConversationFactory.create(customer__channel=CHANNEL, customer__external_id="south-1")
    ConversationFactory.create(customer__external_id="north-9")  # the simulator's: it has no accounts

    assert [(group.channel, group.label, group.accounts) for group in selectors.channel_accounts()] == [
        (CHANNEL, "Carrier pigeon", [("pigeon:north", "北塔"), ("pigeon:south", "南塔")])
    ]

    def found(account: str) -> set[int]:
        return set(Conversation.objects.filter(selectors.account_filter(account=account)).values_list("pk", flat=True))

    with django_assert_num_queries(1):  # the customers are a subquery, not a list read first
        assert found("pigeon:north") == north
    assert found("pigeon:south") == {south.pk}
    assert Customer.objects.get(selectors.account_filter(account="pigeon:south", customer="")) == south.customer
    # An account the channel does not know, a channel without accounts or none at all: nothing.
    assert found("pigeon:west") == found("simulator:north") == found("north") == found("nowhere:") == set()
