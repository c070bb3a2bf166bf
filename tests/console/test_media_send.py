"""An agent sends an image or a file from the console: checked, read, moderated, delivered."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.console import services as console
from apps.conversations.models import Attachment, Conversation, Message
from apps.conversations.pipeline import get_image_reader
from apps.moderation import services as moderation
from apps.moderation.models import Term
from tests.console.readers import READER, png_saying
from tests.console.test_media import PDF, logged_in, media_url
from tests.console.test_pages import a_conversation
from tests.factories import receive


@pytest.fixture
def held(agent: User, settings: Any) -> Conversation:
    """A simulator conversation the agent has taken over; images are read by the PNG-text reader."""
    settings.DESK_IMAGE_READER = READER
    get_image_reader.cache_clear()
    conversation = receive("转人工").message.conversation
    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    return conversation


def upload(client: Client, conversation: Conversation, data: bytes, name: str = "photo.png") -> Any:
    handle = io.BytesIO(data)
    handle.name = name
    return client.post(reverse("admin:console_conversation_media", args=[conversation.pk]), {"file": handle})


@pytest.mark.usefixtures("eager_tasks")
def test_an_agent_s_image_is_read_stored_and_delivered_through_the_simulator(held: Conversation, agent: User) -> None:
    data = png_saying("您的订单已发货", size=(500, 400))

    response = upload(logged_in(agent), held, data)

    assert response.status_code == 200, response.content
    reply = Message.objects.get(pk=response.json()["message_id"])
    assert (reply.author_kind, reply.author_id, reply.body) == ("agent", agent.pk, "[图片]")
    assert reply.status == Message.Status.DELIVERED
    attachment = reply.attachments.get()
    assert (attachment.kind, attachment.content_type, attachment.status) == ("image", "image/png", "stored")
    assert attachment.ocr_text == "您的订单已发货"
    assert logged_in(agent).get(media_url(attachment)).content == data


@pytest.mark.usefixtures("eager_tasks")
def test_an_agent_s_pdf_goes_as_a_file_with_its_name(held: Conversation, agent: User) -> None:
    response = upload(logged_in(agent), held, PDF, name="退货说明.pdf")

    assert response.status_code == 200, response.content
    attachment = Attachment.objects.get(message_id=response.json()["message_id"])
    assert (attachment.kind, attachment.filename) == ("file", "退货说明.pdf")
    assert attachment.message.body == "[文件] 退货说明.pdf"


def test_an_image_too_large_for_its_kind_is_refused_with_the_limit(
    held: Conversation, agent: User, settings: Any
) -> None:
    settings.DESK_MEDIA_MAX_BYTES = 65_536  # within the request's allowance for the form: the check says no

    response = upload(logged_in(agent), held, png_saying(size=(300, 300)) + b"\0" * 80_000)

    assert response.status_code == 413
    assert response.json()["error"] == "The file is too large to send: at most 0.0625 MB."
    assert not Attachment.objects.exists()
    assert not Message.objects.filter(author_kind="agent").exists()


def test_an_upload_over_the_hard_cap_is_refused_before_it_is_read(
    held: Conversation, agent: User, settings: Any
) -> None:
    settings.DESK_MEDIA_MAX_BYTES = 1024

    response = upload(logged_in(agent), held, PDF * 1000, name="big.pdf")

    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert not Attachment.objects.exists()


def test_an_image_whose_words_are_blacklisted_is_not_sent(held: Conversation, agent: User) -> None:
    moderation.term_save(term=Term(text="代开发票", category="fraud", action="block"))
    # What would be masked in typed text cannot be masked in pixels: refused too.
    moderation.term_save(term=Term(text="傻逼", category="abuse", action="mask"))
    client = logged_in(agent)

    for words in ("本店可代开发票", "别理那个傻逼"):
        response = upload(client, held, png_saying(words))

        assert response.status_code == 422
        assert response.json()["error"] == "Not sent: the picture contains blocked content."
    assert not Attachment.objects.exists()
    assert not Message.objects.filter(author_kind="agent").exists()


def test_a_damaged_image_or_a_kind_the_channel_cannot_send_is_explained(
    agent: User, held: Conversation, make_agent: Callable[[str], User]
) -> None:
    client = logged_in(agent)
    damaged = upload(client, held, png_saying()[:300])
    assert damaged.status_code == 422
    assert damaged.json()["error"] == "Not sent: damaged or unreadable file."

    oa = a_conversation("公众号客户", mode=Conversation.Mode.HUMAN)
    Conversation.objects.filter(pk=oa.pk).update(channel="official_account", assignee=agent)
    refused = upload(client, oa, PDF, name="a.pdf")
    assert refused.status_code == 415
    assert refused.json()["error"] == "This channel cannot send this kind of file (File)."


def test_only_the_agent_holding_the_conversation_may_send_media(
    held: Conversation, make_agent: Callable[[str], User], outsider: User
) -> None:
    bob = make_agent("bob")

    assert upload(logged_in(bob), held, png_saying()).status_code == 409
    assert upload(logged_in(outsider), held, png_saying()).status_code == 403
    assert upload(Client(), held, png_saying()).status_code == 302
    assert not Attachment.objects.exists()


def test_the_upload_needs_the_csrf_token(held: Conversation, agent: User) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(agent)

    assert upload(client, held, png_saying()).status_code == 403
    assert not Attachment.objects.exists()
