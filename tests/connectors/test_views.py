"""The inbox's Orders endpoints: an agent with the permission sees the customer's own orders, starts an
after-sales request for one of them; without the permission, nothing."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from apps.connectors.models import Connector, Lookup
from apps.conversations.models import Customer
from peers.fake_shop import FakeShopProcess
from tests.connectors.conftest import bind

pytestmark = pytest.mark.django_db


def agent(*codenames: str) -> Client:
    user = User.objects.create_user("alice", password="pw-alice-12345", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_an_agent_sees_the_customers_orders_and_starts_an_after_sales_request(
    connector: Connector, shop: FakeShopProcess
) -> None:
    customer = Customer.objects.create(channel="simulator", external_id="cust-views-1")
    bind(shop, "E20261127201", "simulator:cust-views-1")
    bind(shop, "E20261127202", "simulator:someone-else")
    client = agent("see_orders", "start_after_sale")

    listed = client.get(reverse("admin:connectors_orders", args=[customer.pk])).json()
    created = client.post(
        reverse("admin:connectors_after_sale"), {"customer": customer.pk, "order_no": "E20261127201", "reason": "换货"}
    )
    refused = client.post(
        reverse("admin:connectors_after_sale"), {"customer": customer.pk, "order_no": "E20261127202", "reason": "退"}
    )

    assert [o["order_no"] for o in listed["orders"]] == ["E20261127201"]
    assert listed["can_after_sale"]
    assert created.status_code == 200
    assert created.json()["request_id"].startswith("AS")
    assert refused.status_code == 502
    assert Lookup.objects.filter(operation="after_sale", result="created", agent__username="alice").count() == 1


def test_without_the_permission_an_agent_sees_no_orders(connector: Connector) -> None:
    customer = Customer.objects.create(channel="simulator", external_id="cust-views-2")
    client = agent()

    response = client.get(reverse("admin:connectors_orders", args=[customer.pk]))
    started = client.post(reverse("admin:connectors_after_sale"), {"customer": customer.pk, "order_no": "E1"})

    assert response.status_code == 403
    assert started.status_code == 403
    assert not Lookup.objects.exists()
