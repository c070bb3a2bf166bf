"""The console websockets as every persona, through the real ASGI stack (session, origin, Redis)."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.conversations.models import Conversation, Customer
from project.asgi import application
from tests.security.conftest import PERSONA_IDS, PERSONAS, ROLES, Persona, roles_ensure

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _setup(persona: Persona) -> tuple[list[tuple[bytes, bytes]], int]:
    roles_ensure()
    customer = Customer.objects.create(channel="simulator", external_id="ws-1", display_name="张三")
    conversation = Conversation.objects.create(customer=customer, channel="simulator")
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if persona.kind != "anonymous":
        user = User.objects.create_user(persona.name, is_staff=True, is_superuser=persona.kind == "superuser")
        if persona.role in ROLES:
            user.groups.add(Group.objects.get(name=persona.role))
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers, conversation.pk


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
async def test_console_websockets_accept_exactly_console_users(persona: Persona) -> None:
    headers, conversation_id = await sync_to_async(_setup)(persona)
    got = {}
    for path in ("/ws/console/", f"/ws/console/conversations/{conversation_id}/"):
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        got[path] = connected if connected else code
        if connected:
            await communicator.disconnect()

    allowed = persona.role in ("agent", "superuser")
    assert got == dict.fromkeys(got, True if allowed else 4403)
