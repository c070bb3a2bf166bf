"""A person plays a customer in the simulator against the real stack: uvicorn, a Celery
worker, Postgres and Redis. The message is stored once, answered, shown back, and listed
in the admin."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.conversations.models import Message
from tests.e2e.conftest import SCREENSHOTS
from tests.support.processes import LiveProcess

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_customer_chats_in_the_simulator_and_the_admin_lists_the_exchange(
    browser: Any, asgi_server: str, celery_worker_process: Callable[..., LiveProcess]
) -> None:
    celery_worker_process()
    User.objects.create_superuser("boss", password="pw-boss-12345")
    page = browser.new_page(locale="zh-CN", viewport={"width": 420, "height": 720})

    # Given a customer who picks a name in the simulator
    page.goto(f"{asgi_server}/simulator/")
    page.get_by_label("您的名字").fill("张三")
    page.get_by_role("button", name="开始聊天").click()
    page.wait_for_selector("#link-status[data-state=online]")

    # When they send a message
    page.get_by_placeholder("输入消息").fill("请问退货要几天？")
    page.get_by_role("button", name="发送").click()

    # Then their message and the bot's answer appear, live
    page.wait_for_selector("#messages li.in >> text=请问退货要几天？")
    answer = page.wait_for_selector("#messages li.out[data-author=bot]", timeout=15_000)
    assert "请问退货要几天？" in answer.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "simulator.png"))

    # And the message is stored once and answered once
    inbound = Message.objects.get(direction="in")
    assert inbound.body == "请问退货要几天？"
    assert inbound.status == Message.Status.ANSWERED
    assert Message.objects.filter(reply_to=inbound, status=Message.Status.DELIVERED).count() == 1

    # And a staff member finds it in the admin
    admin = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 720})
    admin.goto(f"{asgi_server}/admin/conversations/message/")
    admin.fill("#id_username", "boss")
    admin.fill("#id_password", "pw-boss-12345")
    admin.click("input[type=submit]")
    admin.wait_for_selector("#result_list")
    rows = admin.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "请问退货要几天？" in admin.locator("#result_list").inner_text()
    admin.screenshot(path=str(SCREENSHOTS / "admin-messages.png"), full_page=True)
