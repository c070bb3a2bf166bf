"""Agents work in Chromium against the real stack: uvicorn, a Celery worker, Postgres, Redis.
Customers play their part in the simulator page, as in tests/e2e."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.conversations import services as spine
from apps.conversations.models import Conversation, Message
from apps.moderation import services as moderation
from apps.moderation.models import Flag, Term
from tests.console.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS
from tests.support.processes import REPO, LiveProcess
from tests.support.waiting import wait_for


def inbound_with_body(text: str) -> Message:
    # Bodies are encrypted at rest, so SQL cannot match them: compare after decryption.
    (found,) = [m for m in Message.objects.filter(direction=Message.Direction.INBOUND) if m.body == text]
    return found


pytestmark = [pytest.mark.browser, pytest.mark.live]

DOCS = REPO / "docs" / "screenshots"
QUEUE = "/admin/console/workspace/"
# The worker needs no sentence model here (blacklist terms only), and its bot must not quote
# the customer, or every flagged word would be flagged a second time in the answer.
WORKER_ENV = {
    "DESK_MODERATION_SEMANTIC_ENABLED": "false",
    "DESK_ANSWERER": "tests.console.answerers.PoliteAnswerer",
}


def screenshot(page: Any, name: str) -> None:
    """Into the test results; into docs/screenshots too only when asked (DESK_REFRESH_SCREENSHOTS=1),
    so a test run leaves the committed pictures alone."""
    folders = [Path(SCREENSHOTS)]
    if os.environ.get("DESK_REFRESH_SCREENSHOTS") == "1":
        folders.append(DOCS)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


def agent_page(browser: Any, server: str, username: str, path: str) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 860})
    page = context.new_page()
    page.goto(f"{server}/admin/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}")
    return page


def customer_page(browser: Any, server: str, name: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 420, "height": 720}).new_page()
    page.goto(f"{server}/simulator/")
    page.fill("#display-name", name)
    page.click("#name-form button[type=submit]")
    page.wait_for_selector("#link-status[data-state=online]")
    return page


def customer_says(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")
    page.wait_for_selector(f"#messages li.in >> text={text}")


def test_an_agent_sees_a_flagged_message_appear_live_and_confirms_it(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
) -> None:
    celery_worker_process(**WORKER_ENV)
    moderation.term_save(term=Term(text="骗子", category="fraud", severity=4, action="flag"))
    moderation.term_save(term=Term(text="投诉", category="other", severity=2, action="hand_over"))
    agent = make_agent("alice")
    queue = agent_page(browser, asgi_server, "alice", QUEUE)
    queue.wait_for_selector("#link-status[data-state=online]")
    queue.wait_for_selector("#queue-empty")

    # When customers write things the blacklist flags, with the queue page left open
    customer = customer_page(browser, asgi_server, "张三")
    customer_says(customer, "你们是不是骗子？我要投诉")
    other = customer_page(browser, asgi_server, "李四")
    customer_says(other, "上次那个客服就是骗子")

    # Then both flags appear without a reload, hits highlighted, with context
    queue.wait_for_function("document.querySelectorAll('#queue tr.flag-row').length === 2", timeout=30_000)
    marks = queue.locator("#queue tr.flag-row mark").all_inner_texts()
    assert sorted(marks) == ["投诉", "骗子", "骗子"]
    screenshot(queue, "console-queue.png")

    # When the agent selects the first row with the keyboard and confirms it with "c"
    first = queue.locator("#queue tr.flag-row").first
    flag_id = int(first.get_attribute("data-flag-id"))
    queue.keyboard.press("j")
    queue.keyboard.press("c")

    # Then it leaves the queue, decided by the agent
    queue.wait_for_function(
        f"!document.querySelector('#queue tr.flag-row[data-flag-id=\"{flag_id}\"]')", timeout=10_000
    )
    flag = Flag.objects.get(pk=flag_id)
    assert (flag.status, flag.reviewer_id) == (Flag.Status.CONFIRMED, agent.pk)
    assert queue.locator("#queue tr.flag-row").count() == 1
    assert Flag.objects.filter(status=Flag.Status.PENDING).count() == 1


def test_an_agent_takes_over_a_simulator_chat_replies_and_hands_back(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
) -> None:
    celery_worker_process(**WORKER_ENV)
    make_agent("alice")
    customer = customer_page(browser, asgi_server, "王五")
    customer_says(customer, "你好，我的快递到哪了？")
    customer.wait_for_selector("#messages li.out[data-author=bot]", timeout=15_000)
    conversation = Conversation.objects.get()

    # Given an agent who finds the chat in the live list and opens it
    desk = agent_page(browser, asgi_server, "alice", "/admin/console/workspace/conversations/")
    desk.click(f"tr[data-conversation-id='{conversation.pk}'] a")
    desk.wait_for_selector("#link-status[data-state=online]")
    desk.wait_for_selector("#timeline li.msg.bot")

    # When the agent takes over
    desk.click("#take-over")
    desk.wait_for_selector("#conv-mode[data-mode=human]")
    assert not desk.locator("#reply-body").is_disabled()

    # Then the customer's next message reaches the agent live, and the bot stays silent
    customer_says(customer, "能帮我改地址吗？")
    desk.wait_for_selector("#timeline li.msg.customer >> text=能帮我改地址吗？")
    waiting = inbound_with_body("能帮我改地址吗？")
    wait_for(lambda: Message.objects.get(pk=waiting.pk).status == Message.Status.HANDED_OVER, what="hand-over")
    assert not Message.objects.filter(reply_to=waiting).exists()
    assert customer.locator("#messages li.out[data-author=bot]").count() == 1

    # When the agent writes an internal note and replies
    desk.fill("#note-body", "客户要求改地址，已核实身份")
    desk.click("#add-note")
    desk.wait_for_selector("#notes li >> text=客户要求改地址")
    desk.fill("#reply-body", "您好，我是客服小李，已为您修改地址。")
    desk.click("#send-reply")

    # Then the simulator shows the agent's reply, delivered through the channel
    customer.wait_for_selector("#messages li.out[data-author=agent] >> text=已为您修改地址", timeout=15_000)
    desk.wait_for_selector("#timeline li.msg.agent")
    reply = Message.objects.get(author_kind=Message.AuthorKind.AGENT)
    wait_for(lambda: Message.objects.get(pk=reply.pk).status == Message.Status.DELIVERED, what="delivery")
    screenshot(desk, "console-conversation.png")

    # When the agent hands back, the bot answers the next message again
    desk.click("#hand-back")
    desk.wait_for_selector("#conv-mode[data-mode=bot]")
    customer_says(customer, "谢谢，还有一个问题")
    customer.wait_for_function("document.querySelectorAll('#messages li.out[data-author=bot]').length === 2")
    assert inbound_with_body("谢谢，还有一个问题").status == Message.Status.ANSWERED


def test_two_agents_race_to_take_over_and_the_loser_sees_who_has_it(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
) -> None:
    celery_worker_process(**WORKER_ENV)
    make_agent("alice")
    make_agent("bob")
    received = spine.message_receive(
        channel="simulator", external_user_id="race-1", display_name="赵六", channel_message_id=None, body="转人工"
    )
    conversation_id = received.message.conversation_id
    wait_for(lambda: Conversation.objects.get(pk=conversation_id).mode == Conversation.Mode.QUEUED, what="queued")
    path = f"/admin/console/workspace/conversations/{conversation_id}/"
    pages = {name: agent_page(browser, asgi_server, name, path) for name in ("alice", "bob")}
    for page in pages.values():
        page.wait_for_selector("#link-status[data-state=online]")
        page.wait_for_selector("#take-over:not([disabled])")

    # Both click "take over" at once: neither click waits for the other's request
    for page in pages.values():
        page.evaluate("document.getElementById('take-over').click()")

    wait_for(lambda: Conversation.objects.get(pk=conversation_id).mode == Conversation.Mode.HUMAN, what="takeover")
    assignee = Conversation.objects.select_related("assignee").get(pk=conversation_id).assignee
    assert assignee is not None
    winner = assignee.username
    loser = "bob" if winner == "alice" else "alice"
    pages[winner].wait_for_selector("#conv-holder:not(.other):not([hidden])")
    pages[loser].wait_for_selector(f"#conv-holder.other[data-holder={winner}]")
    assert winner in pages[loser].inner_text("#conv-holder")
    assert pages[loser].locator("#take-over").is_disabled()
    assert pages[loser].locator("#reply-body").is_disabled()


def test_staff_without_the_agent_role_get_no_page_and_no_websocket(
    browser: Any, asgi_server: str, outsider: User
) -> None:
    page = agent_page(browser, asgi_server, "mallory", "/admin/")

    response = page.goto(f"{asgi_server}{QUEUE}")
    assert response.status == 403
    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws/console/`);
            socket.onopen = () => resolve("open");
            socket.onclose = () => resolve("refused");
        })"""
    )
    assert outcome == "refused"
