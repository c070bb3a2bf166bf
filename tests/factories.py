"""Test data: one factory per model, and receive(), the way a customer's message enters the desk.

The model factories write rows directly: a customer, a conversation in a given mode. A customer
*message* is not made that way: receive() goes through the spine's real entry point, so the
message is stored once, rate-limited and enqueued for processing exactly as a channel's is.
"""

import datetime
import enum
import itertools

import factory
from factory.django import DjangoModelFactory

from apps.conversations import services
from apps.conversations.models import Conversation, Customer
from apps.customers.models import Label
from apps.routing.models import (
    AgentStatus,
    BusinessHours,
    Holiday,
    OpeningInterval,
    RoutingRule,
    SlaPolicy,
    Team,
)
from apps.wechat.models import WechatAccount, WechatContact


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer
        django_get_or_create = ("channel", "external_id")  # the same customer, as the spine would find it

    channel = "simulator"
    external_id = factory.Sequence(lambda n: f"customer-{n:04d}")
    display_name = factory.Sequence(lambda n: f"顾客{n}")


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    customer = factory.SubFactory(CustomerFactory)
    channel = factory.SelfAttribute("customer.channel")
    mode = Conversation.Mode.BOT


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"班组{n}")


class RoutingRuleFactory(DjangoModelFactory[RoutingRule]):
    class Meta:
        model = RoutingRule

    team = factory.SubFactory(TeamFactory)


class AgentStatusFactory(DjangoModelFactory[AgentStatus]):
    """An agent's availability; pass ``user`` (an agent made by the tests' make_agent)."""

    class Meta:
        model = AgentStatus

    status = AgentStatus.Status.ONLINE
    capacity = 3


class BusinessHoursFactory(DjangoModelFactory[BusinessHours]):
    """The default hours (every channel), Asia/Shanghai; add OpeningIntervalFactory rows, or pass
    ``daily=(time(9), time(21))`` for the same span every day of the week."""

    class Meta:
        model = BusinessHours
        django_get_or_create = ("channel",)
        skip_postgeneration_save = True

    channel = ""
    time_zone = "Asia/Shanghai"

    @factory.post_generation
    def daily(self, create: bool, extracted: tuple[datetime.time, datetime.time] | None, **kwargs: object) -> None:
        if extracted is not None:
            for weekday in range(7):
                OpeningIntervalFactory(hours=self, weekday=weekday, opens=extracted[0], closes=extracted[1])


class OpeningIntervalFactory(DjangoModelFactory[OpeningInterval]):
    class Meta:
        model = OpeningInterval

    hours = factory.SubFactory(BusinessHoursFactory)
    weekday = 0
    opens = datetime.time(9)
    closes = datetime.time(21)


class HolidayFactory(DjangoModelFactory[Holiday]):
    """Closed all day unless ``opens`` and ``closes`` are given."""

    class Meta:
        model = Holiday

    hours = factory.SubFactory(BusinessHoursFactory)
    date = factory.LazyFunction(datetime.date.today)


class SlaPolicyFactory(DjangoModelFactory[SlaPolicy]):
    """The default policy (no team): first response in 5 minutes, next in 10, warned 1 minute before."""

    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")
    team = None
    first_response_s = 300
    next_response_s = 600
    warn_before_s = 60


class OfficialAccountFactory(DjangoModelFactory[WechatAccount]):
    """An Official Account in safe mode; a new AppID each time (web processes cache accounts by it)."""

    class Meta:
        model = WechatAccount

    kind = WechatAccount.Kind.OFFICIAL_ACCOUNT
    name = factory.Sequence(lambda n: f"公众号{n}")
    app_id = factory.Sequence(lambda n: f"wxfactory{n:09d}")
    secret = "oa-app-secret"
    token = "oa-callback-token"
    encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class KfAccountFactory(OfficialAccountFactory):
    """A WeCom corp serving 客服 (one or more kf accounts, open_kfid, under its CorpID)."""

    kind = WechatAccount.Kind.WECOM_KF
    name = factory.Sequence(lambda n: f"客服{n}")
    app_id = factory.Sequence(lambda n: f"wwfactory{n:09d}")
    secret = "kf-secret"
    token = "kf-callback-token"


class WechatContactFactory(DjangoModelFactory[WechatContact]):
    """A customer as an account sees them: give ``customer`` (its channel the account's kind); for a
    kf account, ``open_kfid`` too (the customer's external id is "<open_kfid>:<user_id>")."""

    class Meta:
        model = WechatContact

    account = factory.SubFactory(OfficialAccountFactory)
    customer = factory.SubFactory(CustomerFactory, channel=factory.SelfAttribute("..account.kind"))
    user_id = factory.LazyAttribute(lambda c: c.customer.external_id.rpartition(":")[2])


class LabelFactory(DjangoModelFactory[Label]):
    class Meta:
        model = Label
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签{n}")
    colour = "#e53935"


class _Auto(enum.Enum):
    NEXT = enum.auto()


_message_numbers = itertools.count(1)


def receive(
    text: str = "你好",
    *,
    channel: str = "simulator",
    user: str = "cust-0001",
    message_id: str | _Auto | None = _Auto.NEXT,
    display_name: str = "",
) -> services.Received:
    """A customer message handed over by a channel, through services.message_receive.

    ``message_id`` is the channel's id of the message: a new one per call unless given (give the
    same one twice for a redelivery), ``None`` for a channel that sends none.
    """
    if message_id is _Auto.NEXT:
        message_id = f"msg-{next(_message_numbers):06d}"
    return services.message_receive(
        channel=channel,
        external_user_id=user,
        display_name=display_name,
        channel_message_id=message_id,
        body=text,
    )
