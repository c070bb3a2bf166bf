"""Routing in the browser (issue 18): two agents with two and one seats, five simulator customers
asking for a person. The seats fill by capacity, the two left waiting see their place in line, and
the agent who goes offline in the console hands their chats back to the queue.

The real stack: uvicorn, a Celery worker (the assigner runs there, after the commit that queued the
conversation), Postgres, Redis; agents set their availability with the console's control."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from apps.conversations.models import Conversation, Message
from apps.routing import selectors
from apps.routing.models import AgentStatus, QueueTicket
from apps.routing.tasks import routing_tick
from tests.console.conftest import PASSWORD, agent_group
from tests.e2e.conftest import SCREENSHOTS
from tests.support.presence import presence_forget
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]

LIST = "/admin/console/workspace/conversations/"
CUSTOMERS = ["顾客一", "顾客二", "顾客三", "顾客四", "顾客五"]
Mode = Conversation.Mode
Online, Offline = AgentStatus.Status.ONLINE, AgentStatus.Status.OFFLINE
# The bot must not answer "转人工" itself; follow-ups are due at once, but only the tick this test
# sends runs them (the worker has no beat).
WORKER_ENV = {
    "DESK_MODERATION_SEMANTIC_ENABLED": "false",
    "DESK_ANSWERER": "tests.console.answerers.PoliteAnswerer",
    "DESK_ROUTING_FOLLOW_UP_S": "0",
}


@pytest.fixture(autouse=True)
def _fresh_presence() -> Iterator[None]:
    yield
    presence_forget()


def make_agent(username: str, *, capacity: int) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(agent_group())
    AgentStatus.objects.create(user=user, capacity=capacity, status=Offline)
    return user


def agent_page(browser: Any, server: str, username: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{server}/admin/login/?next={LIST}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{LIST}")
    page.wait_for_selector("#link-status[data-state=online]")
    return page


def set_availability(page: Any, status: str) -> dict[str, Any]:
    """Pick a status in the console's control; returns the server's answer to it."""
    with page.expect_response(lambda r: r.url.endswith("/availability/") and r.request.method == "POST") as answer:
        page.select_option("#availability select[name=status]", status)
    assert answer.value.ok
    data: dict[str, Any] = answer.value.json()
    page.wait_for_function(
        "([load, capacity]) => document.getElementById('availability-load').textContent === String(load)"
        " && document.getElementById('availability-capacity').textContent === String(capacity)",
        arg=[data["load"], data["capacity"]],
    )
    return data


def customer_asks_for_a_person(browser: Any, server: str, name: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 760}).new_page()
    page.goto(f"{server}/simulator/")
    page.fill("#display-name", name)
    page.click("#name-form button[type=submit]")
    page.wait_for_selector("#link-status[data-state=online]")
    page.fill("#text", "转人工")
    page.click("#send")
    page.wait_for_selector("#messages li.in >> text=转人工")
    return page


def conversation_of(name: str) -> Conversation:
    return Conversation.objects.get(customer__display_name=name)


def held_by(user: User) -> set[str]:
    rows = Conversation.objects.filter(assignee=user, mode=Mode.HUMAN).select_related("customer")
    return {row.customer.display_name for row in rows}


def in_mode(name: str, mode: str) -> Callable[[], bool]:
    return lambda: conversation_of(name).mode == mode


def followed_up(name: str) -> Callable[[], bool]:
    return lambda: QueueTicket.objects.filter(conversation__customer__display_name=name, follow_ups=1).exists()


def lists(page: Any, expected: dict[str, str]) -> Callable[[], bool]:
    """Whether the agent's console list shows ``expected``: customer -> the agent column."""

    def check() -> bool:
        rows: list[list[str]] = page.eval_on_selector_all(
            "#conversation-table tr.conversation-row",
            "rows => rows.map(r => [r.cells[0].innerText.trim(), r.cells[3].innerText.trim()])",
        )
        return {customer: agent for customer, agent in rows} == expected

    return check


# Whether the simulator shows a desk notice with exactly this text.
SHOWN = (
    "body => [...document.querySelectorAll('#messages li.out[data-author=system]')].some(li => li.innerText === body)"
)


def notices(page: Any) -> list[str]:
    """What the desk itself told the customer (not the bot, not an agent), oldest first."""
    texts: list[str] = page.locator("#messages li.out[data-author=system]").all_inner_texts()
    return texts


def test_seats_fill_by_capacity_the_rest_wait_in_line_and_going_offline_requeues(
    browser: Any, asgi_server: str, celery_worker_process: Callable[..., LiveProcess]
) -> None:
    celery_worker_process(**WORKER_ENV)
    alice = make_agent("alice", capacity=2)
    bob = make_agent("bob", capacity=1)

    # Given two agents who go online with the console's availability control
    consoles = {name: agent_page(browser, asgi_server, name) for name in ("alice", "bob")}
    assert set_availability(consoles["alice"], Online) == {"ok": True, "status": Online, "load": 0, "capacity": 2}
    assert set_availability(consoles["bob"], Online) == {"ok": True, "status": Online, "load": 0, "capacity": 1}
    assert dict(AgentStatus.objects.values_list("user__username", "status")) == {"alice": Online, "bob": Online}

    # When five customers ask for a person in the simulator, one after the other
    customers: dict[str, Any] = {}
    for i, name in enumerate(CUSTOMERS):
        customers[name] = customer_asks_for_a_person(browser, asgi_server, name)
        if i < 3:  # a seat is free: the worker's assigner gives it within seconds
            wait_for(in_mode(name, Mode.HUMAN), timeout=15, what=f"{name} assigned")
        else:  # no seat: the customer hears their place in line
            customers[name].wait_for_selector(f"#messages li.out[data-author=system] >> text=第{i - 2}位")

    # Then the seats fill by capacity: two chats for alice, one for bob (the freest first, ties to
    # the one not assigned yet), and the other two wait, first come first served
    assert held_by(alice) == {"顾客一", "顾客三"}
    assert held_by(bob) == {"顾客二"}
    for name, place in (("顾客四", 1), ("顾客五", 2)):
        assert conversation_of(name).mode == Mode.QUEUED
        told = Message.objects.get(conversation=conversation_of(name), answer_meta__notice="queue")
        assert told.answer_meta["position"] == place
        assert told.body == settings.DESK_ROUTING_QUEUE_TEXT.format(position=place, minutes=told.answer_meta["minutes"])
        assert notices(customers[name])[-1] == told.body

    # And both consoles list who holds what, live
    expected = {"顾客一": "alice", "顾客二": "bob", "顾客三": "alice", "顾客四": "—", "顾客五": "—"}
    for page in consoles.values():
        wait_for(lists(page, expected), timeout=10, what="the console list")
    # And each one's availability control counts their chats against their seats, live
    for page, held in ((consoles["alice"], "2 / 2"), (consoles["bob"], "1 / 1")):
        page.wait_for_function(f"document.querySelector('#availability .muted').innerText.startsWith('{held}')")
    assert consoles["alice"].locator("#availability select option:checked").inner_text() == "在线"
    consoles["alice"].screenshot(path=str(SCREENSHOTS / "routing-console-1280.png"), full_page=True)
    consoles["alice"].set_viewport_size({"width": 390, "height": 760})
    consoles["alice"].screenshot(path=str(SCREENSHOTS / "routing-console-390.png"), full_page=True)
    consoles["alice"].set_viewport_size({"width": 1280, "height": 800})
    customers["顾客五"].screenshot(path=str(SCREENSHOTS / "routing-simulator-waiting.png"))

    # When alice goes offline in the console
    assert set_availability(consoles["alice"], Offline) == {"ok": True, "status": Offline, "load": 0, "capacity": 2}

    # Then her two chats leave her and go back to the queue, ahead of those who came later
    # (bob is full), and her console lists them as waiting for anyone
    assert held_by(alice) == set()
    assert held_by(bob) == {"顾客二"}
    line = list(selectors.waiting().select_related("conversation__customer"))
    assert [t.conversation.customer.display_name for t in line] == ["顾客一", "顾客三", "顾客四", "顾客五"]
    assert [t.reason for t in line] == ["requeued", "requeued", "requested_human", "requested_human"]
    assert [selectors.position(ticket=t) for t in line] == [1, 2, 3, 4]
    assert QueueTicket.objects.filter(assignee=alice, ended_at__isnull=False).count() == 2
    requeued = {**expected, "顾客一": "—", "顾客三": "—"}
    for page in consoles.values():
        wait_for(lists(page, requeued), timeout=10, what="the console list after offline")
    waiting = consoles["alice"].eval_on_selector_all(
        "#conversation-table tr.conversation-row.mode-queued", "rows => rows.map(r => r.cells[0].innerText.trim())"
    )
    assert set(waiting) == {"顾客一", "顾客三", "顾客四", "顾客五"}
    assert consoles["alice"].locator("#availability select option:checked").inner_text() == "离线"
    consoles["alice"].screenshot(path=str(SCREENSHOTS / "routing-console-offline.png"), full_page=True)

    # And the requeued customers hear their place: first and second, ahead of the other two
    for name, place in (("顾客一", 1), ("顾客三", 2)):
        told = Message.objects.get(conversation=conversation_of(name), answer_meta__notice="queue")
        assert told.answer_meta["position"] == place
        customers[name].wait_for_function(SHOWN, arg=told.body)

    # And the next follow-up tells every waiting customer the same order
    routing_tick.delay()
    for name, place in (("顾客一", 1), ("顾客三", 2), ("顾客四", 3), ("顾客五", 4)):
        wait_for(followed_up(name), what=f"{name}'s follow-up")
        told = Message.objects.get(conversation=conversation_of(name), answer_meta__notice="queue_follow_up")
        assert told.answer_meta["position"] == place
        customers[name].wait_for_function(SHOWN, arg=told.body)
    customers["顾客四"].screenshot(path=str(SCREENSHOTS / "routing-simulator-follow-up.png"))
    assert held_by(bob) == {"顾客二"}
