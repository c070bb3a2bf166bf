"""The customer profile: every identity, one timeline of all their conversations, labels, notes, ratings."""

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from apps.conversations.models import Conversation, Customer, Message, Satisfaction
from apps.customers import selectors
from apps.customers.services import customer_label_add, customer_note_add, customers_merge, person_for
from tests.factories import ConversationFactory, CustomerFactory, LabelFactory


def _messages(conversation: Conversation, count: int) -> None:
    for n in range(count):
        Message.objects.create(
            conversation=conversation,
            channel=conversation.channel,
            direction=Message.Direction.INBOUND,
            author_kind=Message.AuthorKind.CUSTOMER,
            body=f"消息{n}",
            status=Message.Status.ANSWERED,
        )


def _merged(agent: User, oa: Customer, kf: Customer) -> int:
    keep = person_for(customer_id=oa.pk)
    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=person_for(customer_id=kf.pk).pk)
    return keep.pk


def test_a_profile_merged_from_two_channels_shows_both_in_one_timeline(
    agent: User,
    oa_customer: Customer,
    kf_customer: Customer,
    oa_conversation: Conversation,
    kf_conversation: Conversation,
) -> None:
    _messages(oa_conversation, 3)
    _messages(kf_conversation, 1)
    Conversation.objects.filter(pk=oa_conversation.pk).update(
        assignee=agent, end_reason=Conversation.EndReason.AGENT_RESOLVED, closed_at=timezone.now()
    )
    Satisfaction.objects.create(
        conversation=oa_conversation,
        channel="official_account",
        agent=agent,
        via="message",
        score=4,
        comment="挺好",
        answered_at=timezone.now(),
    )
    Satisfaction.objects.create(conversation=kf_conversation, channel="wecom_kf", via="message")  # asked, no answer
    person_id = _merged(agent, oa_customer, kf_customer)
    customer_label_add(actor=agent, person_id=person_id, label_id=LabelFactory.create(name="VIP").pk)
    customer_note_add(actor=agent, person_id=person_id, body="两个渠道是同一个人")

    profile = selectors.profile(person_id=person_id)

    assert profile.person_id == person_id
    assert [(i.channel, i.external_id, i.linked_by) for i in profile.identities] == [
        ("official_account", "o-openid-1", "first_contact"),
        ("wecom_kf", "wm-kf-1", "agent"),
    ]
    assert [i.can_unmerge for i in profile.identities] == [False, True]
    assert profile.first_seen == oa_customer.created_at
    assert [c.id for c in profile.conversations] == [kf_conversation.pk, oa_conversation.pk]  # newest first
    assert profile.conversations_total == 2
    kf_row, oa_row = profile.conversations
    assert (kf_row.channel, kf_row.message_count, kf_row.assignee, kf_row.end_reason) == ("wecom_kf", 1, "", "")
    assert (oa_row.channel, oa_row.message_count, oa_row.assignee) == ("official_account", 3, "alice")
    assert oa_row.end_reason == "agent_resolved"
    assert oa_row.end_reason_label
    assert [(r.score, r.comment, r.agent) for r in profile.satisfaction] == [(4, "挺好", "alice")]
    assert [label.name for label in profile.labels] == ["VIP"]
    assert [(n.author, n.body) for n in profile.notes] == [("alice", "两个渠道是同一个人")]
    json = profile.as_json()
    assert json["identities"][1]["channel_label"]
    assert json["conversations"][0]["mode"] == "bot"


def test_a_profile_without_a_name_takes_the_most_recent_identitys(
    agent: User, oa_customer: Customer, kf_customer: Customer
) -> None:
    person_id = _merged(agent, oa_customer, kf_customer)
    Customer.objects.filter(pk=oa_customer.pk).update(updated_at=timezone.now() + timedelta(minutes=1))

    assert selectors.profile(person_id=person_id).name == "王小明"


def test_a_profile_costs_the_same_queries_whatever_its_size(
    agent: User, oa_customer: Customer, kf_customer: Customer, django_assert_max_num_queries: Any
) -> None:
    person_id = _merged(agent, oa_customer, kf_customer)
    ConversationFactory.create(customer=oa_customer, mode=Conversation.Mode.CLOSED)
    with django_assert_max_num_queries(5) as small:
        selectors.profile(person_id=person_id)

    bot = CustomerFactory.create(channel="wechaty", external_id="wxid-9")
    customers_merge(actor=agent, keep_person_id=person_id, merge_person_id=person_for(customer_id=bot.pk).pk)
    for customer in (oa_customer, kf_customer, bot):
        for _ in range(4):
            conversation = ConversationFactory.create(customer=customer, mode=Conversation.Mode.CLOSED)
            _messages(conversation, 2)
            Satisfaction.objects.create(
                conversation=conversation, channel=customer.channel, agent=agent, via="message", score=5
            )
    for n in range(3):
        customer_label_add(actor=agent, person_id=person_id, label_id=LabelFactory.create(name=f"标签{n}").pk)
        customer_note_add(actor=agent, person_id=person_id, body=f"备注{n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        profile = selectors.profile(person_id=person_id)

    assert len(profile.conversations) == profile.conversations_total == 13
    assert len(profile.satisfaction) == 12
    assert len(profile.notes) == 3
