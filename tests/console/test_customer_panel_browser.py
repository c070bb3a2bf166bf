"""The inbox's customer panel in Chromium against the real stack: the profile of the person behind
the open conversation (identities, labels, notes, satisfaction, every conversation), a merge with
another channel's customer through the dialog and its undo, and the panel on a phone."""

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from apps.conversations.models import Conversation, Customer, Satisfaction
from apps.customers import services as customers
from apps.customers.models import CustomerLabel, CustomerNote, Identity, Label
from tests.console.test_console_browser import screenshot
from tests.console.test_inbox_browser import INBOX, sign_in
from tests.factories import ConversationFactory, LabelFactory, receive

pytestmark = [pytest.mark.browser, pytest.mark.live]

PROFILE = "#customer-profile[data-state=ready]"


def merger(make_agent: Callable[[str], User], username: str) -> User:
    """An agent who may merge customers (the agent role has it; make_agent grants the console only)."""
    user = make_agent(username)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="customers", codename="merge_person"))
    return user


def two_channels() -> tuple[Conversation, Conversation]:
    """王小明 writes on the simulator (and rated an earlier chat 4/5), then as 小明 through Wechaty."""
    sim = receive("我的快递到哪了？", channel="simulator", user="sim-wxm", display_name="王小明").message.conversation
    earlier = ConversationFactory.create(
        customer=sim.customer,
        mode=Conversation.Mode.CLOSED,
        closed_at=timezone.now(),
        end_reason=Conversation.EndReason.AGENT_RESOLVED,
    )
    Conversation.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    Satisfaction.objects.create(
        conversation=earlier,
        channel="simulator",
        via=Satisfaction.Via.MESSAGE,
        score=4,
        comment="回复很快",
        answered_at=timezone.now() - datetime.timedelta(days=3),
    )
    chat = receive("我换了个号，订单A123", channel="wechaty", user="wxid_xm", display_name="小明").message.conversation
    return sim, chat


def identities(page: Any) -> list[int]:
    found = page.eval_on_selector_all(".cp-identity", "els => els.map(e => e.dataset.customerId)")
    return [int(i) for i in found]


def wait_identities(page: Any, count: int) -> None:
    page.wait_for_selector(f"{PROFILE}[data-identities='{count}']", timeout=15_000)


def test_an_agent_merges_a_customer_from_another_channel_labels_and_notes_them_then_undoes_it(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = merger(make_agent, "alice")
    vip = LabelFactory.create(name="VIP", colour="#e53935")
    LabelFactory.create(name="投诉", colour="#1e88e5")
    sim, chat = two_channels()
    page = sign_in(browser, asgi_server, "alice", height=1250)  # tall enough to show the whole panel
    page.goto(f"{asgi_server}{INBOX}?c={sim.pk}")

    # The panel shows the simulator identity, first contact, its two conversations and the rating
    wait_identities(page, 1)
    assert identities(page) == [sim.customer_id]
    assert "王小明" in page.inner_text(".cp-identity")
    assert page.locator(".cp-conversation").count() == 2
    assert page.locator(".cp-conversation.current").count() == 1
    assert page.inner_text(".cp-stars") == "★★★★☆"
    assert "回复很快" in page.inner_text("#cp-ratings")
    assert page.is_hidden(".cp-undo")

    # Merge: find the Wechaty customer, pick, confirm
    page.click("#cp-merge-open")
    page.wait_for_selector("#cp-merge-dialog[open]")
    page.fill("#cp-merge-q", "小明")
    pick = page.locator(f".cp-merge-pick[data-customer-id='{chat.customer_id}']")
    pick.wait_for()
    assert page.locator(".cp-merge-pick").count() == 1  # the customer shown is left out
    pick.click()
    page.wait_for_selector("#cp-merge-go:visible")
    assert "此操作可以撤销" in page.inner_text("#cp-merge-confirm")  # zh-CN: the translated warning
    page.click("#cp-merge-go")
    page.wait_for_selector("#cp-merge-dialog", state="hidden")
    wait_identities(page, 2)
    assert identities(page) == [sim.customer_id, chat.customer_id]
    assert "alice" in page.inner_text(f".cp-identity[data-customer-id='{chat.customer_id}']")
    assert page.locator(".cp-conversation").count() == 3
    assert (
        Identity.objects.get(customer=chat.customer).person_id == Identity.objects.get(customer=sim.customer).person_id
    )

    # A label from the select (its chip in the label's colour), and a note on the customer
    page.select_option("#cp-label-add", str(vip.pk))
    page.wait_for_selector(f".cp-label[data-label-id='{vip.pk}']")
    assert CustomerLabel.objects.filter(label=vip, person__identities__customer=sim.customer).exists()
    assert page.locator("#cp-label-add option", has_text="VIP").count() == 0
    page.fill("#cp-note-body", "老客户，两个号都是他")
    page.click("#cp-note-form button[type=submit]")
    page.wait_for_selector(".cp-note >> text=老客户，两个号都是他")
    assert page.input_value("#cp-note-body") == ""
    assert CustomerNote.objects.get().author == alice
    assert page.evaluate("document.documentElement.scrollWidth") <= 1360
    screenshot(page, "customer-panel-1360.png")

    # The Wechaty conversation, from the timeline, opens in the centre; the panel is the same person's
    page.click(f".cp-conversation-link[data-open-conversation='{chat.pk}']")
    page.wait_for_selector(f"#conversation-pane[data-conversation-id='{chat.pk}']")
    page.wait_for_selector(f"{PROFILE}[data-customer-id='{chat.customer_id}'][data-identities='2']")
    assert page.locator(f".cp-label[data-label-id='{vip.pk}']").count() == 1

    # A label comes off with its ×
    page.click(f".cp-label[data-label-id='{vip.pk}'] .cp-label-remove")
    page.wait_for_selector(f".cp-label[data-label-id='{vip.pk}']", state="detached")
    assert not CustomerLabel.objects.exists()

    # Undo: the Wechaty customer is on their own again, the simulator one keeps the note
    page.click(f".cp-identity[data-customer-id='{chat.customer_id}'] .cp-undo")
    wait_identities(page, 1)
    assert identities(page) == [chat.customer_id]
    assert page.locator(".cp-conversation").count() == 1
    assert page.locator(".cp-note").count() == 0
    assert (
        Identity.objects.get(customer=chat.customer).person_id != Identity.objects.get(customer=sim.customer).person_id
    )
    page.click(".inbox-tab[data-tab=all]")
    page.locator(".inbox-row", has_text="王小明").click()
    wait_identities(page, 1)
    page.wait_for_selector(f"{PROFILE}[data-customer-id='{sim.customer_id}']")
    assert identities(page) == [sim.customer_id]
    assert page.locator(".cp-note").count() == 1


def test_an_agent_without_the_merge_permission_sees_no_merge(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    make_agent("bob")
    sim, chat = two_channels()
    boss = merger(make_agent, "maria")
    keep = customers.person_for(customer_id=sim.customer_id)
    other = customers.person_for(customer_id=chat.customer_id)
    customers.customers_merge(actor=boss, keep_person_id=keep.pk, merge_person_id=other.pk)
    page = sign_in(browser, asgi_server, "bob")
    page.goto(f"{asgi_server}{INBOX}?c={chat.pk}")
    wait_identities(page, 2)
    assert page.is_hidden("#cp-merge-open")
    assert page.locator(".cp-undo").count() == 0
    assert "maria" in page.inner_text(f".cp-identity[data-customer-id='{chat.customer_id}']")


def test_on_a_phone_the_panel_is_under_the_conversation_one_tap_away(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    alice = merger(make_agent, "alice")
    sim, chat = two_channels()
    keep = customers.person_for(customer_id=sim.customer_id)
    other = customers.person_for(customer_id=chat.customer_id)
    customers.customers_merge(actor=alice, keep_person_id=keep.pk, merge_person_id=other.pk)
    vip = Label.objects.create(name="VIP", colour="#e53935")
    customers.customer_label_add(actor=alice, person_id=keep.pk, label_id=vip.pk)
    customers.customer_note_add(actor=alice, person_id=keep.pk, body="老客户，两个号都是他")
    assert Customer.objects.count() == 2

    page = sign_in(browser, asgi_server, "alice", width=390, height=844, is_mobile=True, has_touch=True)
    page.goto(f"{asgi_server}{INBOX}?c={sim.pk}")
    wait_identities(page, 2)
    assert page.is_visible("#conversation-pane")
    page.tap("#conversation-pane [data-cp-jump=customer]")
    page.wait_for_function(
        "document.getElementById('customer-panel').getBoundingClientRect().top < window.innerHeight / 2"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    screenshot(page, "customer-panel-390.png")

    # The merge dialog fits the phone too
    page.tap("#cp-merge-open")
    page.wait_for_selector("#cp-merge-dialog[open]")
    box = page.locator("#cp-merge-dialog").bounding_box()
    assert box is not None
    assert box["width"] <= 390
    page.tap("#cp-merge-cancel")
    page.wait_for_selector("#cp-merge-dialog", state="hidden")
    page.tap("[data-cp-jump=conversation]")
    page.wait_for_function("document.getElementById('conversation-pane').getBoundingClientRect().top > -5")
