"""The inbox's search, labels and account filter in Chromium against the real stack (uvicorn, a
Celery worker, Postgres, Redis): hits marked and opened at the message, bulk labels, the label and
account filters, and a hit on a phone. The list, keys, bulk assign/close, notifications and the
phone layout are in test_inbox_browser.py, whose helpers these reuse."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.conversations.models import Conversation, Customer, Message
from apps.customers.models import ConversationLabel
from tests.console.test_console_browser import screenshot
from tests.console.test_inbox_browser import a_conversation, rows, sign_in, wait_rows
from tests.factories import LabelFactory, OfficialAccountFactory, WechatContactFactory
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]


def in_view(page: Any, selector: str) -> bool:
    """Whether the element lies inside the visible part of the timeline that scrolls it."""
    return bool(
        page.evaluate(
            """(selector) => {
              const li = document.querySelector(selector), box = document.getElementById('timeline');
              const r = li.getBoundingClientRect(), t = box.getBoundingClientRect();
              return r.top >= t.top - 1 && r.bottom <= t.bottom + 1;
            }""",
            selector,
        )
    )


def hits(page: Any) -> list[dict[str, Any]]:
    return list(
        page.eval_on_selector_all(
            "#search-hits .search-hit",
            """els => els.map(e => ({conversation: Number(e.dataset.conversationId),
              message: Number(e.dataset.messageId || 0),
              marked: [...e.querySelectorAll('mark')].map(m => m.textContent)}))""",
        )
    )


def talk(name: str, bodies: list[str], assignee: User | None = None) -> tuple[Conversation, list[Message]]:
    """A conversation whose customer wrote ``bodies``, one message each."""
    mode = Conversation.Mode.HUMAN if assignee else Conversation.Mode.BOT
    customer = Customer.objects.create(channel="simulator", external_id=f"ext-{name}", display_name=name)
    conversation = Conversation.objects.create(customer=customer, channel="simulator", mode=mode, assignee=assignee)
    said = [
        Message.objects.create(
            conversation=conversation,
            channel="simulator",
            direction="in",
            author_kind="customer",
            status=Message.Status.HANDED_OVER,
            body=body,
        )
        for body in bodies
    ]
    return conversation, said


def test_search_finds_a_chinese_phrase_and_an_english_word_and_opens_the_conversation_at_the_hit(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    bodies = [f"第{n}条：我的订单还没到" for n in range(30)]
    bodies[3] = "您好，发票抬头请写：上海某某贸易有限公司，税号稍后发您"
    zhang, said = talk("张三", bodies, assignee=alice)
    wanted = said[3]
    li_si, (english,) = talk("李四", ["Hello, the INVOICE for order 1234 has not arrived"])
    talk("王五", ["麻烦帮我开发票", "抬头写个人就行"])  # "开发票抬头" spans the two: never a hit
    page = sign_in(browser, asgi_server, "alice")
    wait_rows(page, 1)

    # "/" then the phrase, Enter: the hits take the list's place, the phrase marked
    page.keyboard.press("/")
    page.keyboard.type("发票抬头")
    page.keyboard.press("Enter")
    page.wait_for_selector("#search-hits .search-hit")
    assert hits(page) == [{"conversation": zhang.pk, "message": wanted.pk, "marked": ["发票抬头"]}]
    assert not page.is_visible("#inbox-rows")
    assert page.is_visible("#search-hits .search-hit .hit-kind")

    # The hit opens the conversation scrolled to that message, which is marked
    page.click("#search-hits .search-hit")
    target = (
        f"#conversation-pane[data-conversation-id='{zhang.pk}'] #timeline li.msg.search-target[data-id='{wanted.pk}']"
    )
    page.wait_for_selector(target)
    page.wait_for_function(
        "(() => { const t = document.getElementById('timeline');"
        " return t.scrollTop + t.clientHeight < t.scrollHeight - 20; })()"
    )  # not left at the bottom, where a conversation opens
    assert in_view(page, target)
    screenshot(page, "inbox-search-1360.png")

    # A phrase split over two messages of the customer finds nothing
    page.fill("#inbox-search", "开发票抬头")
    page.press("#inbox-search", "Enter")
    page.wait_for_function("document.querySelectorAll('#search-hits .search-hit').length === 0")
    page.wait_for_function("document.getElementById('search-state').textContent.length > 0")
    assert hits(page) == []

    # An English word, whatever its case
    page.fill("#inbox-search", "invoice")
    page.press("#inbox-search", "Enter")
    page.wait_for_function(f"document.querySelector('#search-hits .search-hit[data-conversation-id=\"{li_si.pk}\"]')")
    assert hits(page) == [{"conversation": li_si.pk, "message": english.pk, "marked": ["INVOICE"]}]

    # One Chinese character is too short for the index: it says so and the list stays
    page.fill("#inbox-search", "票")
    page.wait_for_function("document.getElementById('console').dataset.results === 'hint'")
    assert page.is_visible("#search-state")

    # Esc returns to the list
    page.fill("#inbox-search", "invoice")
    page.press("#inbox-search", "Enter")
    page.wait_for_selector("#search-hits .search-hit")
    page.press("#inbox-search", "Escape")
    page.wait_for_selector("#inbox-results", state="hidden")
    wait_rows(page, 1)
    assert page.input_value("#inbox-search") == ""


def test_on_a_phone_a_search_hit_opens_the_conversation_view(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = make_agent("alice")
    bodies = [f"第{n}条：我的订单还没到" for n in range(20)]
    bodies[2] = "发票抬头写错了，能改吗？"
    zhang, said = talk("张三", bodies, assignee=alice)
    talk("李四", ["我的发票抬头是个人"])
    page = sign_in(browser, asgi_server, "alice", width=390, height=844, is_mobile=True, has_touch=True)
    wait_rows(page, 1)
    page.fill("#inbox-search", "发票抬头")
    page.wait_for_function("document.querySelectorAll('#search-hits .search-hit').length === 2", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "inbox-search-390.png")

    page.locator(f"#search-hits .search-hit[data-conversation-id='{zhang.pk}']").tap()
    target = f"#timeline li.msg.search-target[data-id='{said[2].pk}']"
    page.wait_for_selector(target)
    assert not page.is_visible("#inbox-results")
    assert in_view(page, target)
    screenshot(page, "inbox-search-390-conversation.png")


def test_bulk_label_two_conversations_then_filter_the_list_by_the_label(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    make_agent("alice")
    label = LabelFactory.create(name="发票问题", colour="#1e88e5")
    chosen = [a_conversation(name, Conversation.Mode.QUEUED) for name in ("甲", "乙")]
    a_conversation("丙", Conversation.Mode.QUEUED)
    page = sign_in(browser, asgi_server, "alice")
    page.click(".inbox-tab[data-tab=all]")
    wait_rows(page, 3)
    assert page.is_visible("#filter-label")

    # Two picked, labelled at once; the rows show the chip
    for conversation in chosen:
        page.check(f".inbox-row[data-conversation-id='{conversation.pk}'] .row-check")
    page.select_option("#bulk-label-id", str(label.pk))
    page.click("[data-bulk=label]")
    wait_for(
        lambda: (
            set(ConversationLabel.objects.filter(label=label).values_list("conversation_id", flat=True))
            == {c.pk for c in chosen}
        ),
        what="bulk label",
    )
    page.wait_for_function("document.querySelectorAll('.inbox-row .label-chip').length === 2")
    labelled = page.eval_on_selector_all(
        ".inbox-row:has(.label-chip)", "els => els.map(e => Number(e.dataset.conversationId))"
    )
    assert set(labelled) == {c.pk for c in chosen}
    assert page.inner_text(".inbox-row .label-chip") == "发票问题"
    assert page.inner_text("#bulk-count") == "0"

    # The filter keeps the labelled ones, the counts follow
    page.select_option("#filter-label", str(label.pk))
    wait_rows(page, 2)
    assert set(rows(page)) == {c.pk for c in chosen}
    assert page.inner_text(".count[data-count=all]") == "2"
    screenshot(page, "inbox-labels-1360.png")

    # And off again from one of them
    page.check(f".inbox-row[data-conversation-id='{chosen[0].pk}'] .row-check")
    page.select_option("#bulk-label-op", "remove")
    page.click("[data-bulk=label]")
    wait_rows(page, 1)
    assert rows(page) == [chosen[1].pk]


def test_the_account_filter_keeps_one_official_accounts_conversations_and_follows_the_channel(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    make_agent("alice")
    shop, club = OfficialAccountFactory.create(name="商城"), OfficialAccountFactory.create(name="会员")
    at = {
        account.pk: WechatContactFactory.create(account=account, customer__display_name=name).customer
        for account, name in ((shop, "甲"), (club, "乙"))
    }
    wanted = Conversation.objects.create(customer=at[club.pk], channel="official_account", mode="queued")
    Conversation.objects.create(customer=at[shop.pk], channel="official_account", mode="queued")
    a_conversation("丙", Conversation.Mode.QUEUED)
    page = sign_in(browser, asgi_server, "alice")
    page.click(".inbox-tab[data-tab=all]")
    wait_rows(page, 3)

    page.select_option("#filter-account", f"official_account:{club.app_id}")
    wait_rows(page, 1)
    assert rows(page) == [wanted.pk]
    assert page.inner_text(".count[data-count=all]") == "1"

    # Another channel: its accounts only (none), the account filter let go
    page.select_option("#filter-channel", "simulator")
    wait_rows(page, 1)
    assert page.input_value("#filter-account") == ""
    assert page.eval_on_selector("#filter-account optgroup", "group => group.disabled")
