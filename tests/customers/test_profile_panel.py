"""What the inbox's customer panel reads from a profile beyond the timeline: who linked each identity."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.conversations.models import Conversation, Customer
from apps.customers.services import customers_merge, customers_unmerge, person_for

ClientOf = Callable[[User], Client]


def test_a_merged_identity_names_the_agent_who_merged_it(
    agent: User,
    client_of: ClientOf,
    oa_customer: Customer,
    kf_customer: Customer,
    oa_conversation: Conversation,
    kf_conversation: Conversation,
) -> None:
    keep = person_for(customer_id=oa_customer.pk)
    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=person_for(customer_id=kf_customer.pk).pk)

    profile = client_of(agent).get(reverse("admin:customers_profile", args=[oa_customer.pk])).json()["profile"]

    assert [(i["linked_by"], i["linked_by_user"]) for i in profile["identities"]] == [
        ("first_contact", ""),
        ("agent", "alice"),
    ]


def test_an_undone_merge_leaves_no_agent_on_the_identity(
    agent: User,
    client_of: ClientOf,
    oa_customer: Customer,
    kf_customer: Customer,
    oa_conversation: Conversation,
    kf_conversation: Conversation,
) -> None:
    keep = person_for(customer_id=oa_customer.pk)
    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=person_for(customer_id=kf_customer.pk).pk)
    merged = next(i for i in keep.identities.all() if i.customer_id == kf_customer.pk)
    customers_unmerge(actor=agent, identity_id=merged.pk)

    profile = client_of(agent).get(reverse("admin:customers_profile", args=[kf_customer.pk])).json()["profile"]

    assert [(i["customer_id"], i["linked_by"], i["linked_by_user"]) for i in profile["identities"]] == [
        (kf_customer.pk, "first_contact", "")
    ]
