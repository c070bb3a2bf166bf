"""A newcomer's first question on a local desk: the demo shop that `make setup` loads answers
"你好，我想退货，怎么操作？" in the simulator with its own return policy, in Chinese (issue 20)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from apps.conversations.models import Message
from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
from apps.knowledge.models import Entry
from tests.e2e.conftest import SCREENSHOTS
from tests.support.processes import LiveProcess

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_the_demo_shop_answers_a_return_question_in_the_simulator(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    eager_tasks: None,
    settings: Any,
) -> None:
    # Given a local desk with the demo shop loaded (embedded here: this process runs tasks inline)
    settings.DEBUG = True
    call_command("knowledge_demo")
    assert Entry.objects.filter(embedding__isnull=False).count() == len(demo_store_rows())
    celery_worker_process(DESK_ANSWERER="apps.llm.answerer.LLMAnswerer", KNOWLEDGE_RELOAD_SECONDS="0")
    # The answers are encrypted at rest: no SQL filter on them.
    policy = next(e.answer for e in Entry.objects.all() if e.answer.startswith("您好，收到商品 7 天内"))

    # When a customer asks in the simulator how to return something
    page = browser.new_page(locale="zh-CN", viewport={"width": 420, "height": 760})
    page.goto(f"{asgi_server}/simulator/")
    page.get_by_label("您的名字").fill("新顾客")
    page.get_by_role("button", name="开始聊天").click()
    page.wait_for_selector("#link-status[data-state=online]")
    page.get_by_placeholder("输入消息").fill("你好，我想退货，怎么操作？")
    page.get_by_role("button", name="发送").click()

    # Then the shop's own return policy comes back, in Chinese, straight from its knowledge base
    answer = page.wait_for_selector("#messages li.out[data-author=bot]", timeout=30_000)
    assert policy.strip() in answer.inner_text()
    reply = Message.objects.get(direction="out", author_kind="bot")
    assert reply.answer_meta["source"] == "knowledge"
    page.screenshot(path=str(SCREENSHOTS / "simulator-demo-shop.png"))
