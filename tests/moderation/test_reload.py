"""An edit in the admin reaches an already running Celery worker without a restart."""

import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.conversations import services as spine
from apps.conversations.models import Message
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for


def reply_to(message_id: int) -> str | None:
    reply = Message.objects.filter(reply_to_id=message_id).first()
    return reply.body if reply else None


@pytest.mark.live
def test_an_admin_edit_reaches_a_running_worker(
    celery_worker_process: Callable[..., LiveProcess], admin_client: Client
) -> None:
    celery_worker_process(
        DESK_ANSWERER="apps.conversations.placeholders.EchoAnswerer",
        DESK_MODERATION_RELOAD_SECONDS="1",
        DESK_MODERATION_SEMANTIC_ENABLED="false",
    )

    def send(text: str, channel_id: str) -> int:
        return spine.message_receive(
            channel="simulator", external_user_id="c-1", display_name="", channel_message_id=channel_id, body=text
        ).message.pk

    before = send("你们这群傻逼", "m-1")
    wait_for(lambda: reply_to(before) is not None, timeout=30, what="the worker to answer")
    assert "傻逼" in (reply_to(before) or "")  # no term yet: the echo answer went through

    response = admin_client.post(
        reverse("admin:moderation_term_add"),
        {"text": "傻逼", "kind": "keyword", "category": "abuse", "severity": 5, "action": "block", "enabled": "on"},
    )
    assert response.status_code == 302
    edited_at = time.monotonic()
    time.sleep(1.5)  # the worker compares its rules version at most once a second (set above)

    after = send("你们这群傻 逼", "m-2")
    wait_for(lambda: reply_to(after) is not None, timeout=30, what="the worker to answer again")
    assert reply_to(after) == settings.DESK_MODERATION_BLOCKED_REPLY
    assert time.monotonic() - edited_at < 10
