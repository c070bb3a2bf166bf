"""The browser simulator channel: its API, its websocket nudge, and its on/off switch."""

from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.conversations.models import Message
from project.routing import websocket_urlpatterns

URL = "/api/simulator/messages"
CUSTOMER = "sim0customer01"


def send(client: Client, text: str, client_message_id: str = "client-msg-0001") -> Any:
    payload = {"customer_id": CUSTOMER, "client_message_id": client_message_id, "display_name": "王五", "text": text}
    return client.post(URL, payload, content_type="application/json")


@pytest.mark.usefixtures("eager_tasks")
def test_a_customer_sees_their_message_and_the_answer(client: Client) -> None:
    assert send(client, "你们几点下班？").status_code == 202

    response = client.get(URL, {"customer_id": CUSTOMER, "after": "0"})

    messages = response.json()["messages"]
    assert [(m["direction"], m["author_kind"]) for m in messages] == [("in", "customer"), ("out", "bot")]
    assert messages[0]["body"] == "你们几点下班？"
    assert "你们几点下班？" in messages[1]["body"]
    after_first = client.get(URL, {"customer_id": CUSTOMER, "after": str(messages[0]["id"])}).json()["messages"]
    assert [m["id"] for m in after_first] == [messages[1]["id"]]


@pytest.mark.usefixtures("eager_tasks")
def test_a_resent_client_message_id_is_stored_once(client: Client) -> None:
    assert send(client, "重复").status_code == 202
    assert send(client, "重复").status_code == 200
    assert Message.objects.filter(direction="in").count() == 1


@pytest.mark.django_db
def test_another_customers_messages_are_not_listed(client: Client) -> None:
    send(client, "我的秘密")
    response = client.get(URL, {"customer_id": "someone-else-01", "after": "0"})
    assert response.json() == {"messages": []}


@pytest.mark.django_db
@pytest.mark.parametrize("customer_id", ["short", "has spaces in it", "../../etc/passwd", "x" * 65])
def test_it_rejects_malformed_customer_ids(client: Client, customer_id: str) -> None:
    assert client.get(URL, {"customer_id": customer_id}).status_code == 422


@pytest.mark.django_db
def test_the_simulator_can_be_switched_off(client: Client, settings: object) -> None:
    settings.SIMULATOR_ENABLED = False  # type: ignore[attr-defined]
    assert send(client, "hi").status_code == 404
    assert client.get("/simulator/").status_code == 404
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_the_page_speaks_chinese_by_default_and_english_on_request(client: Client) -> None:
    assert "发送" in client.get("/simulator/").content.decode()
    assert "Send" in client.get("/simulator/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_websocket_is_nudged_when_a_reply_is_delivered() -> None:
    from asgiref.sync import sync_to_async

    from apps.conversations import services

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/simulator/{CUSTOMER}/")
    connected, _ = await communicator.connect()
    assert connected

    received = await sync_to_async(services.message_receive)(
        channel="simulator", external_user_id=CUSTOMER, display_name="王五", channel_message_id="ws-1", body="你好"
    )
    await sync_to_async(services.inbound_process)(message_id=received.message.pk)
    reply = await sync_to_async(Message.objects.get)(reply_to=received.message)
    await sync_to_async(services.message_deliver)(message_id=reply.pk)

    event = await communicator.receive_json_from(timeout=5)
    assert event == {"type": "message", "message_id": reply.pk}
    await communicator.disconnect()
