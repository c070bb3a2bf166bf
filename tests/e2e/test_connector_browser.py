"""A customer asks the simulator where their order is; the answer comes from the shop's own system
(a fake shop in its own process, signatures checked) through the real stack, and the agent sees the
order in the inbox's customer panel and starts an after-sales request from it."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User

from apps.connectors.models import Connector, Lookup
from apps.conversations.models import Conversation
from peers.fake_shop import FakeShopProcess
from tests.connectors.conftest import SECRET, bind
from tests.console.conftest import PASSWORD
from tests.console.test_console_browser import screenshot
from tests.console.test_inbox_browser import INBOX, sign_in
from tests.support.processes import LiveProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def shop() -> Iterator[FakeShopProcess]:
    process = FakeShopProcess(port=free_port(), secret=SECRET)
    yield process
    process.stop()


def order_agent() -> User:
    user = User.objects.create_user("alice", password=PASSWORD, is_staff=True)
    group, _ = Group.objects.get_or_create(name="agent")
    user.groups.add(group)
    wanted = [("console", "use_console"), ("connectors", "see_orders"), ("connectors", "start_after_sale")]
    for app_label, codename in wanted:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def test_a_customer_learns_where_their_order_is_and_the_agent_sees_it_in_the_panel(
    browser: Any, asgi_server: str, celery_worker_process: Callable[..., LiveProcess], shop: FakeShopProcess
) -> None:
    celery_worker_process()
    Connector.objects.create(name="自营商城", base_url=shop.url, secret=SECRET, timeout_s=2.0)
    order_agent()

    # Given a simulator customer whose order the shop knows
    page = browser.new_page(locale="zh-CN", viewport={"width": 420, "height": 760})
    page.goto(f"{asgi_server}/simulator/")
    page.get_by_label("您的名字").fill("王小明")
    page.get_by_role("button", name="开始聊天").click()
    page.wait_for_selector("#link-status[data-state=online]")
    customer_id = page.evaluate("JSON.parse(localStorage.getItem('simulator.customer')).customerId")
    bind(shop, "E20261127001", f"simulator:{customer_id}")

    # When they ask where it is
    page.get_by_placeholder("输入消息").fill("我的订单 E20261127001 到哪了？")
    page.get_by_role("button", name="发送").click()

    # Then the bot answers with the shop's status and tracking number
    answer = page.wait_for_selector("#messages li.out[data-author=bot]", timeout=20_000)
    text = answer.inner_text()
    assert "已发货" in text
    assert "SF1402938475610" in text
    assert "顺丰速运" in text
    page.screenshot(path="test-results/screenshots/connector-simulator.png")
    assert shop.stats()["bad_signature"] == 0

    # And the agent sees the order in the customer panel, and starts an after-sales request
    conversation = Conversation.objects.get()
    agent = sign_in(browser, asgi_server, "alice")
    agent.goto(f"{asgi_server}{INBOX}?c={conversation.pk}")
    order = agent.wait_for_selector(".cp-order[data-order-no=E20261127001]", timeout=15_000)
    assert "已发货" in order.inner_text()
    assert "SF1402938475610" in order.inner_text()
    agent.locator("#cp-orders").scroll_into_view_if_needed()
    screenshot(agent, "connector-order-1360.png")
    agent.once("dialog", lambda dialog: dialog.accept("尺码不合适，想换货"))
    agent.locator(".cp-order[data-order-no=E20261127001] .cp-after-sale").click()
    agent.wait_for_selector(".cp-after-sale-done")
    assert Lookup.objects.filter(operation="after_sale", result="created", agent__username="alice").count() == 1
