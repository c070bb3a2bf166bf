"""The spine's customer_identified signal links identities by WeChat's unionid (apps/customers/receivers.py)."""

import logging

import pytest

from apps.conversations.models import Conversation, Customer
from apps.conversations.signals import customer_identified
from apps.customers import selectors
from apps.customers.models import Identity, Person

UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"


def test_two_channels_reporting_one_unionid_make_one_profile(
    oa_customer: Customer, kf_customer: Customer, oa_conversation: Conversation, kf_conversation: Conversation
) -> None:
    customer_identified.send(sender=Customer, customer_id=oa_customer.pk, unionid=UNIONID)
    customer_identified.send(sender=Customer, customer_id=kf_customer.pk, unionid=UNIONID)
    customer_identified.send(sender=Customer, customer_id=kf_customer.pk, unionid=UNIONID)  # a retried task

    person = Person.objects.get(unionid=UNIONID)
    profile = selectors.profile(person_id=person.pk)
    assert [(i.channel, i.linked_by) for i in profile.identities] == [
        ("official_account", "first_contact"),
        ("wecom_kf", "unionid"),
    ]
    assert [c.id for c in profile.conversations] == [kf_conversation.pk, oa_conversation.pk]


def test_a_malformed_unionid_is_logged_and_links_nothing(
    oa_customer: Customer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.customers.receivers"):
        customer_identified.send(sender=Customer, customer_id=oa_customer.pk, unionid="x" * 65)

    assert "malformed unionid" in caplog.text
    assert not Person.objects.filter(unionid__isnull=False).exists()
    assert not Identity.objects.exclude(person__unionid=None).exists()
