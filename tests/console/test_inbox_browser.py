"""The agent inbox in Chromium against the real stack (uvicorn, Postgres, Redis): the landing page,
tabs and filters, live updates, the keyboard, bulk actions, canned replies with a fill-in,
notifications, the language switch, the 390 px phone layout. Search, labels and the account filter:
test_inbox_search_browser.py."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.console import services as console
from apps.console.models import AgentPreference, CannedResponse
from apps.conversations import services as spine
from apps.conversations.models import Conversation, Customer, Message
from apps.routing.models import QueueTicket, Team
from tests.console.conftest import PASSWORD
from tests.console.test_console_browser import screenshot
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]

INBOX = "/admin/console/workspace/inbox/"
# Wraps the browser's Notification before the page's scripts run: the test reads what was shown.
NOTIFICATIONS = """
window.__shown = [];
const Real = window.Notification;
window.Notification = class {
  constructor(title, options) { window.__shown.push({ title, body: (options || {}).body }); }
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
};
"""


def a_conversation(name: str, mode: str = Conversation.Mode.BOT, assignee: User | None = None) -> Conversation:
    customer = Customer.objects.create(channel="simulator", external_id=f"ext-{name}", display_name=name)
    conversation = Conversation.objects.create(customer=customer, channel="simulator", mode=mode, assignee=assignee)
    Message.objects.create(
        conversation=conversation,
        channel="simulator",
        direction="in",
        author_kind="customer",
        status=Message.Status.HANDED_OVER,
        body=f"{name}：我的快递到哪了？",
    )
    return conversation


def sign_in(browser: Any, server: str, username: str, *, width: int = 1360, height: int = 860, **context: Any) -> Any:
    """Sign in from the admin's login page as a new user would: no page asked for."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}, **context)
    page = ctx.new_page()
    page.goto(f"{server}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{INBOX}**")
    page.wait_for_selector("#link-status[data-state=online]")
    return page


def rows(page: Any) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all(".inbox-row", "els => els.map(e => e.dataset.conversationId)")]


def wait_rows(page: Any, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.inbox-row').length === {count}", timeout=15_000)


def test_an_agent_lands_in_the_inbox_filters_it_and_sees_it_change_live(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    team = Team.objects.create(name="售后")
    mine = a_conversation("张三", Conversation.Mode.HUMAN, assignee=alice)
    queued = a_conversation("李四", Conversation.Mode.QUEUED)
    QueueTicket.objects.create(conversation=queued, team=team, queued_at=queued.created_at)
    a_conversation("王五")

    # Signing in lands on the inbox, "mine" first, with the counts of every tab
    page = sign_in(browser, asgi_server, "alice")
    wait_rows(page, 1)
    assert rows(page) == [mine.pk]
    assert page.inner_text(".count[data-count=all]") == "3"
    assert page.inner_text(".count[data-count=queued]") == "1"

    # Tabs and filters (no channel has accounts: no account filter)
    assert not page.is_visible("#filter-account")
    page.click(".inbox-tab[data-tab=all]")
    wait_rows(page, 3)
    assert rows(page)[0] == queued.pk  # waiting for a person first
    page.select_option("#filter-team", str(team.pk))
    wait_rows(page, 1)
    assert rows(page) == [queued.pk]
    page.select_option("#filter-team", "")
    wait_rows(page, 3)
    page.keyboard.press("/")
    page.keyboard.type("王")
    wait_rows(page, 1)
    page.fill("#inbox-search", "")
    wait_rows(page, 3)

    # A customer writes in: the row appears without a reload, unread
    spine.message_receive(
        channel="simulator", external_user_id="new-1", display_name="赵六", channel_message_id=None, body="在吗？"
    )
    wait_rows(page, 4)
    row = page.locator(".inbox-row", has_text="赵六")
    assert row.locator(".unread").inner_text() == "1"
    assert "在吗？" in row.inner_text()

    # The language switch: English on request, Chinese by default
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    page.click("#language-switch button[value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Mine" in page.inner_text(".inbox-tab[data-tab=mine]")
    page.click("#language-switch button[value=zh-hans]")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")


def test_keys_open_reply_with_a_canned_fill_in_and_close(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    CannedResponse.objects.create(
        title="查询订单", shortcut="order", body="{customer_name}您好，订单{order_no}已发货，我是{agent_name}。"
    )
    CannedResponse.objects.create(title="问候", shortcut="hi", body="您好！")
    first = a_conversation("张三", Conversation.Mode.HUMAN, assignee=alice)
    second = a_conversation("李四", Conversation.Mode.HUMAN, assignee=alice)
    page = sign_in(browser, asgi_server, "alice")
    wait_rows(page, 2)
    order = rows(page)

    # j opens the first row, j the next, k back; the conversation loads in the centre
    page.keyboard.press("j")
    page.wait_for_selector(f"#conversation-pane[data-conversation-id='{order[0]}'] #timeline li.msg.customer")
    page.keyboard.press("j")
    page.wait_for_selector(f"#conversation-pane[data-conversation-id='{order[1]}'] #timeline li.msg.customer")
    page.keyboard.press("k")
    page.wait_for_selector(f"#conversation-pane[data-conversation-id='{order[0]}'] #timeline li.msg.customer")
    current = Conversation.objects.select_related("customer").get(pk=order[0])
    page.wait_for_selector(f"#customer-panel h3 >> text={current.customer.display_name}")
    # Opening it read it: the row's unread badge goes
    page.wait_for_function(f"!document.querySelector('.inbox-row[data-conversation-id=\"{order[0]}\"] .unread')")

    # r: the composer; "/" lists canned replies, arrows pick, Enter asks for the fill-in
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-body"
    page.keyboard.type("/")
    page.wait_for_selector("#canned-menu .canned-option")
    assert page.locator("#canned-menu .canned-option").count() == 2
    page.keyboard.type("订单")
    page.wait_for_function("document.querySelectorAll('#canned-menu .canned-option').length === 1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#fill-in-dialog[open] input[data-fill-in=order_no]")
    screenshot(page, "inbox-canned-fill-in.png")
    page.keyboard.type("A123")
    page.keyboard.press("Enter")
    expected = f"{current.customer.display_name}您好，订单A123已发货，我是alice。"
    page.wait_for_function(f"document.getElementById('reply-body').value === {expected!r}")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"#timeline li.msg.agent >> text={expected}")
    assert Message.objects.filter(author_kind=Message.AuthorKind.AGENT, conversation_id=order[0]).count() == 1
    screenshot(page, "inbox-1360.png")

    # e closes the conversation shown (from outside the composer)
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    wait_for(lambda: Conversation.objects.get(pk=order[0]).mode == Conversation.Mode.CLOSED, what="closed")
    page.wait_for_selector("#conv-mode[data-mode=closed]")
    wait_rows(page, 1)
    assert {first.pk, second.pk} - {order[0]} == set(rows(page))


def test_bulk_assign_and_close_from_the_list(browser: Any, asgi_server: str, make_agent: Callable[[str], User]) -> None:
    make_agent("alice")
    bob = make_agent("bob")
    queued = [a_conversation(name, Conversation.Mode.QUEUED) for name in ("甲", "乙", "丙")]
    page = sign_in(browser, asgi_server, "alice")
    page.click(".inbox-tab[data-tab=queued]")
    wait_rows(page, 3)

    # Two picked (a click, and x on the row under the cursor), given to bob at once
    page.locator(".inbox-row .row-check").nth(0).check()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.wait_for_selector("#bulk-actions:not([hidden])")
    assert page.inner_text("#bulk-count") == "2"
    picked = rows(page)[:2]
    page.select_option("#bulk-assignee", str(bob.pk))
    page.click("[data-bulk=assign]")
    wait_for(
        lambda: set(Conversation.objects.filter(assignee=bob).values_list("pk", flat=True)) == set(picked),
        what="bulk assign",
    )
    wait_rows(page, 1)  # no longer queued

    # Select all, close
    page.click(".inbox-tab[data-tab=all]")
    wait_rows(page, 3)
    page.check("#bulk-all")
    assert page.inner_text("#bulk-count") == "3"
    page.click("[data-bulk=close]")
    wait_for(
        lambda: set(Conversation.objects.values_list("mode", flat=True)) == {Conversation.Mode.CLOSED},
        what="bulk close",
    )
    page.wait_for_selector("#inbox-empty:not([hidden])")
    assert {c.pk for c in queued} == set(Conversation.objects.values_list("pk", flat=True))


def test_notifications_for_an_assignment_a_message_and_the_queue_with_unread_in_the_title(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    bob = make_agent("bob")
    waiting = a_conversation("张三", Conversation.Mode.QUEUED)
    page = sign_in(browser, asgi_server, "alice")
    page.context.add_init_script(NOTIFICATIONS)
    page.reload()
    page.wait_for_selector("#link-status[data-state=online]")
    page.wait_for_selector("#inbox-empty:not([hidden])")

    # Asked from the button, never on load; the agent allows it
    assert page.evaluate("Notification.permission") == "default"
    page.context.grant_permissions(["notifications"])
    page.click("#notify-settings summary")
    page.click("#notify-enable")
    page.wait_for_selector("#notify-enable", state="hidden")
    assert page.evaluate("Notification.permission") == "granted"

    # A conversation is given to alice: a notification and a sound; its unread shows in the title
    console.conversation_assign(conversation_id=waiting.pk, agent=bob, assignee_id=alice.pk)
    page.wait_for_function("window.__shown.length === 1", timeout=15_000)
    assert "张三" in page.evaluate("window.__shown[0].title")
    page.wait_for_function("document.title.startsWith('(1) ')")
    assert int(page.evaluate("document.getElementById('console').dataset.beeps")) == 1

    # The customer writes again: a second notification, two unread
    spine.message_receive(
        channel="simulator", external_user_id="ext-张三", display_name="张三", channel_message_id=None, body="还在吗"
    )
    page.wait_for_function("window.__shown.length === 2", timeout=15_000)
    page.wait_for_function("document.title.startsWith('(2) ')")

    # The team's queue grows: a third; with the switch off, none (kept on the server)
    queued = a_conversation("李四", Conversation.Mode.QUEUED)
    QueueTicket.objects.create(conversation=queued, queued_at=queued.created_at)
    console.note_add(conversation_id=queued.pk, author=bob, body="排队中")  # any nudge makes the list reread
    page.wait_for_function("window.__shown.length === 3", timeout=20_000)
    page.uncheck("[data-preference=notify_queue]")
    wait_for(lambda: AgentPreference.objects.filter(user=alice, notify_queue=False).exists(), what="switch saved")
    again = a_conversation("王五", Conversation.Mode.QUEUED)
    QueueTicket.objects.create(conversation=again, queued_at=again.created_at)
    console.note_add(conversation_id=again.pk, author=bob, body="排队中")
    page.wait_for_function("document.querySelector('.count[data-count=unassigned]').textContent === '2'")
    assert page.evaluate("window.__shown.length") == 3


def test_on_a_phone_the_list_and_the_conversation_are_two_views(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    for name in ("张三", "李四", "王五"):
        a_conversation(name, Conversation.Mode.HUMAN, assignee=alice)
    page = sign_in(browser, asgi_server, "alice", width=390, height=844, is_mobile=True, has_touch=True)
    wait_rows(page, 3)
    assert page.is_visible("#inbox-rows")
    assert not page.is_visible("#inbox-main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    screenshot(page, "inbox-390.png")

    page.locator(".inbox-row").first.tap()
    page.wait_for_selector("#timeline li.msg.customer")
    assert page.is_visible("#inbox-main")
    assert not page.is_visible("#inbox-rows")
    assert page.is_visible("#inbox-back")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "inbox-390-conversation.png")

    page.tap("#inbox-back")
    page.wait_for_selector("#inbox-rows", state="visible")
    assert not page.is_visible("#inbox-main")
