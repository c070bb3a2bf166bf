"""The console websocket through the real ASGI stack (session auth, origin check, Redis layer)."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from apps.console import services as console
from apps.conversations.models import Conversation, Customer
from project.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def session_cookie(user: User | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def a_conversation() -> Conversation:
    customer = Customer.objects.create(channel="simulator", external_id="ext-1", display_name="张三")
    return Conversation.objects.create(customer=customer, channel="simulator", mode=Conversation.Mode.QUEUED)


async def connect(path: str, user: User | None) -> tuple[bool, Any, WebsocketCommunicator]:
    headers = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return connected, code, communicator


@pytest.mark.parametrize("path", ["/ws/console/", "/ws/console/conversations/1/"])
async def test_staff_without_the_agent_role_are_refused(outsider: User, path: str) -> None:
    connected, code, _ = await connect(path, outsider)

    assert not connected
    assert code == 4403


async def test_anonymous_visitors_are_refused() -> None:
    connected, code, _ = await connect("/ws/console/", None)

    assert not connected
    assert code == 4403


async def test_an_agent_is_nudged_after_a_takeover_commits(agent: User) -> None:
    conversation = await sync_to_async(a_conversation)()
    connected, _, watching = await connect(f"/ws/console/conversations/{conversation.pk}/", agent)
    _, _, lists = await connect("/ws/console/", agent)
    assert connected

    await sync_to_async(console.conversation_take_over)(conversation_id=conversation.pk, agent=agent)

    assert await watching.receive_json_from(timeout=5) == {"kind": "conversation", "conversation_id": conversation.pk}
    assert (await lists.receive_json_from(timeout=5))["conversation_id"] == conversation.pk
    await watching.disconnect()
    await lists.disconnect()
