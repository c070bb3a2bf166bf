"""An agent hands a WeCom 客服 chat to a WeCom servicer and gets it back, in Chromium, against the
real stack (uvicorn, a Celery worker) and the fake WeCom API, which refuses what WeCom refuses."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User

from apps.conversations.models import Conversation, Message
from apps.wechat.models import WechatAccount, WecomServicer
from peers.fake_wechat import FakeWeChat
from tests.console.test_console_browser import agent_page
from tests.e2e.conftest import SCREENSHOTS
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for
from tests.wechat.signing import kf_event_xml, kf_post
from tests.wechat.test_kf import OPEN_KFID, customer_messages

pytestmark = [pytest.mark.browser, pytest.mark.live]
USER = "wmUser0000"


class LiveClient:
    """kf_post's client, over HTTP to the live server instead of Django's test client."""

    def __init__(self, server: str) -> None:
        self.server = server

    def post(self, url: str, *, data: str, content_type: str) -> httpx.Response:
        return httpx.post(f"{self.server}{url}", content=data.encode(), headers={"Content-Type": content_type})


@pytest.fixture
def wecom_env(live_env: dict[str, str], fake_wechat: FakeWeChat) -> dict[str, str]:
    # Web (the console's hand-off) and worker (sync, replies) both talk to the fake WeCom API.
    live_env.update(
        {
            "WECHAT_WECOM_API_BASE_URL": fake_wechat.url,
            "DESK_ANSWERER": "apps.conversations.placeholders.EchoAnswerer",
            "DESK_MODERATOR": "apps.conversations.placeholders.AllowAllModerator",
        }
    )
    return live_env


def wecom_says(server: str, fake: FakeWeChat, *messages: dict[str, Any]) -> None:
    fake.add_kf_messages(OPEN_KFID, list(messages))
    response = kf_post(LiveClient(server), kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))  # type: ignore[arg-type]
    assert response.status_code == 200  # type: ignore[attr-defined]


def customer_message(text: str, number: int) -> dict[str, Any]:
    (message,) = customer_messages(1, users=1, first=number)
    return {**message, "external_userid": USER, "text": {"content": text}}


def test_an_agent_hands_a_chat_to_a_wecom_servicer_and_it_comes_back_after_the_session_ends(
    browser: Any,
    wecom_env: dict[str, str],
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
    kf_account: WechatAccount,
    fake_wechat: FakeWeChat,
) -> None:
    celery_worker_process(**wecom_env)
    make_agent("alice")
    zhang = User.objects.create_user("zhang", is_staff=True)
    WecomServicer.objects.create(user=zhang, userid="zhangsan")

    wecom_says(asgi_server, fake_wechat, customer_message("你好，我要退货", 0))
    wait_for(lambda: Conversation.objects.filter(mode="bot").exists(), timeout=30, what="the conversation")
    conversation = Conversation.objects.get()
    wait_for(lambda: any(s.api == "kf" for s in fake_wechat.sent), timeout=30, what="the bot's answer")

    page = agent_page(browser, asgi_server, "alice", f"/admin/console/workspace/conversations/{conversation.pk}/")
    page.wait_for_selector("#timeline >> text=你好，我要退货")
    page.select_option("#channel-wecom-servicer-value", "zhangsan")
    page.click("#channel-wecom-servicer")
    page.wait_for_selector("#conv-channel:not([hidden])")
    assert "zhangsan" in page.inner_text("#conv-channel")
    assert page.is_disabled("#reply-body")
    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 3

    bot_replies = sum(1 for s in fake_wechat.sent if s.api == "kf")
    wecom_says(
        asgi_server,
        fake_wechat,
        fake_wechat.kf.servicer_message(OPEN_KFID, USER, "zhangsan", "您好，我是张三，我来处理退货"),
        customer_message("好的，谢谢", 1),
    )
    page.wait_for_selector("#timeline >> text=您好，我是张三，我来处理退货")
    page.wait_for_selector("#timeline >> text=好的，谢谢")
    page.screenshot(path=str(SCREENSHOTS / "console-kf-served-in-wecom.png"), full_page=True)

    wecom_says(asgi_server, fake_wechat, fake_wechat.kf.servicer_ends(OPEN_KFID, USER))
    page.wait_for_selector("#conv-mode[data-mode=closed]")
    bot_said = conversation.messages.filter(author_kind=Message.AuthorKind.BOT, status=Message.Status.DELIVERED)
    answered_before = bot_said.count()
    wecom_says(asgi_server, fake_wechat, customer_message("还有一个问题", 2))
    # Within DESK_REOPEN_GRACE_S the customer's next words reopen the same conversation, with the bot.
    reopened = Conversation.objects.filter(pk=conversation.pk, mode="bot")
    wait_for(reopened.exists, timeout=30, what="the conversation reopened with the bot")
    wait_for(lambda: bot_said.count() > answered_before, timeout=30, what="the bot's answer")
    assert not Conversation.objects.exclude(pk=conversation.pk).exists()
    # The bot stayed silent while the servicer had the session, and answers again after its end.
    assert sum(1 for s in fake_wechat.sent if s.api == "kf") == bot_replies + 1
    assert fake_wechat.kf.session(OPEN_KFID, USER).state in (0, 1)
