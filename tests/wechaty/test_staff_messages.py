"""author="staff" on the inbound API: a message typed on the account's phone takes over."""

import json
from typing import Any

import pytest
from django.test import Client

from apps.conversations.models import Conversation, Message

URL = "/api/inbound/messages"
AUTH = {"Authorization": "Bearer test-inbound-token"}


def post(client: Client, **fields: str) -> tuple[int, Any]:
    body = {"channel": "wechaty", "external_user_id": "wxid_alice", "display_name": "Alice", **fields}
    response = client.post(URL, json.dumps(body), content_type="application/json", headers=AUTH)
    return response.status_code, response.json()


@pytest.fixture(autouse=True)
def _instant_pipeline(settings: pytest.FixtureRequest) -> None:
    from apps.conversations.pipeline import get_answerer, get_moderator

    settings.DESK_ANSWERER = "apps.conversations.placeholders.EchoAnswerer"  # type: ignore[attr-defined]
    settings.DESK_MODERATOR = "apps.conversations.placeholders.AllowAllModerator"  # type: ignore[attr-defined]
    get_answerer.cache_clear()
    get_moderator.cache_clear()


def test_a_staff_message_is_recorded_as_delivered_agent_text_and_hands_over(client: Client, eager_tasks: None) -> None:
    status, first = post(client, channel_message_id="w-1", text="你好")
    assert status == 202
    status, staff = post(client, channel_message_id="w-2", text="我是客服小王", author="staff")
    assert status == 202
    assert staff["conversation_id"] == first["conversation_id"]

    message = Message.objects.get(channel_message_id="w-2")
    assert (message.direction, message.author_kind, message.status) == ("out", "agent", "delivered")
    assert Conversation.objects.get().mode == Conversation.Mode.HUMAN
    # The bot answered the first message before the takeover, and nothing after it.
    bot_replies = Message.objects.filter(author_kind=Message.AuthorKind.BOT).count()
    post(client, channel_message_id="w-3", text="好的")
    assert Message.objects.get(channel_message_id="w-3").status == Message.Status.HANDED_OVER
    assert Message.objects.filter(author_kind=Message.AuthorKind.BOT).count() == bot_replies == 1


@pytest.mark.django_db
def test_a_repeated_staff_message_is_stored_once(client: Client) -> None:
    assert post(client, channel_message_id="w-9", text="稍等", author="staff")[0] == 202
    status, again = post(client, channel_message_id="w-9", text="稍等", author="staff")
    assert (status, again["duplicate"]) == (200, True)
    assert Message.objects.filter(channel_message_id="w-9").count() == 1


@pytest.mark.django_db
def test_an_unknown_author_is_refused(client: Client) -> None:
    status, body = post(client, channel_message_id="w-5", text="hi", author="robot")
    assert status == 422
    assert body["errors"][0]["field"] == "author"
    assert Message.objects.count() == 0
