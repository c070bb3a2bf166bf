"""The inbox's JSON endpoints: who may call them, what they answer, errors as JSON."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, Customer
from apps.customers.models import ConversationLabel, Identity, Label

ClientOf = Callable[[User], Client]


def test_an_agent_merges_two_channels_and_undoes_it_through_the_endpoints(
    agent: User,
    client_of: ClientOf,
    oa_conversation: Conversation,
    kf_conversation: Conversation,
    oa_customer: Customer,
    kf_customer: Customer,
) -> None:
    client = client_of(agent)

    found = client.get(reverse("admin:customers_find"), {"q": "小明", "exclude": str(oa_customer.pk)}).json()
    assert [row["customer_id"] for row in found["results"]] == [kf_customer.pk]
    merged = client.post(reverse("admin:customers_merge"), {"keep": oa_customer.pk, "merge": kf_customer.pk})

    assert merged.status_code == 200
    body = merged.json()
    assert body["can_merge"] is True
    profile = body["profile"]
    assert [c["id"] for c in profile["conversations"]] == [kf_conversation.pk, oa_conversation.pk]
    assert [i["channel"] for i in profile["identities"]] == ["official_account", "wecom_kf"]
    kf_identity = profile["identities"][1]
    assert kf_identity["can_unmerge"] is True
    # The kf customer's own profile is now the same person.
    again = client.get(reverse("admin:customers_profile", args=[kf_customer.pk])).json()
    assert again["profile"]["person_id"] == profile["person_id"]

    undone = client.post(reverse("admin:customers_unmerge"), {"identity": kf_identity["id"]})

    assert undone.status_code == 200
    assert [i["customer_id"] for i in undone.json()["restored"]["identities"]] == [kf_customer.pk]
    assert Identity.objects.get(customer=oa_customer).person_id == profile["person_id"]
    assert list(
        AuditLog.objects.filter(actor=agent, event__startswith="customer.")
        .values_list("event", flat=True)
        .order_by("id")
    ) == [
        "customer.merged",
        "customer.unmerged",
    ]


def test_labels_and_notes_through_the_endpoints(
    agent: User, client_of: ClientOf, oa_customer: Customer, oa_conversation: Conversation, vip: Label
) -> None:
    client = client_of(agent)

    listed = client.get(reverse("admin:customers_labels")).json()
    assert listed == {"labels": [{"id": vip.pk, "name": "VIP", "colour": "#e53935", "description": ""}]}
    on_customer = client.post(
        reverse("admin:customers_label"), {"target": "customer", "id": oa_customer.pk, "label": vip.pk, "op": "add"}
    ).json()
    assert on_customer == {
        "changed": True,
        "labels": [{"id": vip.pk, "name": "VIP", "colour": "#e53935", "description": ""}],
    }
    other = Conversation.objects.create(customer=oa_customer, channel="official_account")
    bulk = client.post(
        reverse("admin:customers_label"),
        {"target": "conversation", "id": [oa_conversation.pk, other.pk], "label": vip.pk, "op": "add"},
    ).json()
    assert bulk["changed"] == [oa_conversation.pk, other.pk]
    assert bulk["labels"][str(other.pk)][0]["name"] == "VIP"
    page = client.get(reverse("admin:customers_conversation_labels"), {"ids": f"{oa_conversation.pk},{other.pk}"})
    assert set(page.json()["labels"]) == {str(oa_conversation.pk), str(other.pk)}
    note = client.post(reverse("admin:customers_note"), {"customer": oa_customer.pk, "body": " 很急 "}).json()
    assert note["note"]["body"] == "很急"
    assert note["note"]["author"] == "alice"

    profile = client.get(reverse("admin:customers_profile", args=[oa_customer.pk])).json()["profile"]
    assert [n["body"] for n in profile["notes"]] == ["很急"]
    assert [label["name"] for label in profile["labels"]] == ["VIP"]
    assert ConversationLabel.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "args", "data", "status"),
    [
        ("customers_profile", [999_999], None, 404),
        ("customers_label", [], {"target": "customer", "id": "x", "label": "1", "op": "add"}, 400),
        ("customers_label", [], {"target": "elsewhere", "id": "1", "label": "1", "op": "add"}, 400),
        ("customers_label", [], {"target": "conversation", "id": "999999", "label": "LABEL", "op": "add"}, 400),
        ("customers_note", [], {"customer": "CUSTOMER", "body": "   "}, 400),
        ("customers_merge", [], {"keep": "CUSTOMER", "merge": "CUSTOMER"}, 400),
        ("customers_merge", [], {"keep": "CUSTOMER", "merge": "999999"}, 404),
        ("customers_unmerge", [], {"identity": "999999"}, 400),
    ],
)
def test_bad_requests_answer_json_errors(
    name: str,
    args: list[int],
    data: dict[str, str] | None,
    status: int,
    agent: User,
    client_of: ClientOf,
    oa_customer: Customer,
    vip: Label,
) -> None:
    client = client_of(agent)
    if data is None:
        response = client.get(reverse(f"admin:{name}", args=args))
    else:
        values = {"CUSTOMER": str(oa_customer.pk), "LABEL": str(vip.pk)}
        response = client.post(reverse(f"admin:{name}", args=args), {k: values.get(v, v) for k, v in data.items()})

    assert response.status_code == status
    assert response.json()["error"]


def test_staff_without_the_console_get_403_and_visitors_the_login(
    outsider: User, manager: User, client_of: ClientOf, oa_customer: Customer, vip: Label
) -> None:
    urls = [
        ("get", reverse("admin:customers_profile", args=[oa_customer.pk]), {}),
        ("get", reverse("admin:customers_find"), {"q": "小"}),
        ("post", reverse("admin:customers_label"), {"target": "customer", "id": oa_customer.pk, "label": vip.pk}),
        ("post", reverse("admin:customers_merge"), {"keep": oa_customer.pk, "merge": oa_customer.pk}),
    ]
    for user in (outsider, manager):
        client = client_of(user)
        assert [getattr(client, method)(url, data).status_code for method, url, data in urls] == [403] * 4
    anonymous = Client()
    assert {getattr(anonymous, method)(url, data).status_code for method, url, data in urls} == {302}
    assert not Identity.objects.exists()


def test_merging_needs_the_merge_permission(
    db: None, client_of: ClientOf, oa_customer: Customer, kf_customer: Customer
) -> None:
    from django.contrib.auth.models import Permission

    console_only = User.objects.create_user("carol", is_staff=True)
    console_only.user_permissions.add(Permission.objects.get(codename="use_console"))

    response = client_of(console_only).post(
        reverse("admin:customers_merge"), {"keep": oa_customer.pk, "merge": kf_customer.pk}
    )

    assert response.status_code == 403
    assert not Identity.objects.exists()
