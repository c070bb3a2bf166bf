"""A manager opens the dashboard in a real browser against uvicorn and sees the charts; the screenshot
is the one in docs/screenshots/dashboard.png."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.e2e.conftest import SCREENSHOTS, browser  # noqa: F401 (the fixture)
from tests.reports.conftest import AGENT, BOT, CUSTOMER, IN, OUT, History, S, _Builder, _llm, at

pytestmark = [pytest.mark.browser, pytest.mark.live]


def more_days(alice: User) -> None:
    """Two weeks of varied traffic so the charts have a shape."""
    b = _Builder(prefix="more")
    for day in range(4, 15):
        for n in range(2 + (day * 7) % 6):
            start = at(day, f"{9 + n}:00:00")
            human = n % 4 == 3
            conv = b.conversation(
                ("simulator", "official_account", "wecom_kf")[n % 3],
                start,
                mode="closed",
                closed=start + timedelta(minutes=5 + n),
                assignee=alice if human else None,
            )
            b.message(f"{day}-{n}-in", conv, start, IN, CUSTOMER, S.HANDED_OVER if human else S.ANSWERED)
            if human:
                b.message(f"{day}-{n}-ag", conv, start + timedelta(seconds=40), OUT, AGENT, S.DELIVERED, author=alice)
            else:
                ms = 800 + (day * 131 + n * 97) % 2500
                reply = start + timedelta(milliseconds=ms + 50)
                b.message(
                    f"{day}-{n}-out", conv, reply, OUT, BOT, S.DELIVERED, answer_ms=ms, meta=_llm("gpu-a", ms // 6)
                )


def test_a_manager_sees_the_dashboard_charts_in_the_browser(
    browser: Any,  # noqa: F811
    asgi_server: str,
    history: History,
    manager: User,
) -> None:
    more_days(history.alice)
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    page.goto(
        f"{asgi_server}/admin/login/?next=/admin/reports/export/dashboard/%3Fdate_from%3D2026-03-01%26date_to%3D2026-03-14"
    )
    page.fill("#id_username", "manager")
    page.fill("#id_password", "pw-manager-12345")
    page.click("input[type=submit]")
    page.wait_for_selector("#figures")

    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart rect").count() > 30
    assert page.locator("#fig-containment .value").inner_text().endswith("%")
    assert "alice" in page.locator("#agents").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # A staff member without the manager permission is refused
    other = browser.new_page(locale="en-US")
    User.objects.create_user("agent2", password="pw-agent-12345", is_staff=True)
    other.goto(f"{asgi_server}/admin/login/")
    other.fill("#id_username", "agent2")
    other.fill("#id_password", "pw-agent-12345")
    other.click("input[type=submit]")
    other.wait_for_selector("#content")
    refused = other.goto(f"{asgi_server}/admin/reports/export/dashboard/")
    assert refused is not None
    assert refused.status == 403


def test_the_lifecycle_tables_and_sla_tile_read_in_chinese_on_a_desk_and_a_phone(
    browser: Any,  # noqa: F811
    asgi_server: str,
    day: Any,
    manager: User,
) -> None:
    from tests.reports.scripted_day import DAY, play

    play(day)
    query = f"%3Fdate_from%3D{DAY.isoformat()}%26date_to%3D{DAY.isoformat()}"
    for width, name in ((1280, "dashboard-lifecycle.png"), (390, "dashboard-lifecycle-390.png")):
        page = browser.new_page(locale="zh-CN", viewport={"width": width, "height": 900})
        page.goto(f"{asgi_server}/admin/login/?next=/admin/reports/export/dashboard/{query}")
        page.fill("#id_username", "manager")
        page.fill("#id_password", "pw-manager-12345")
        page.click("input[type=submit]")
        page.wait_for_selector("#lifecycle-agents")
        agents = page.locator("#lifecycle-agents").inner_text()
        assert "bob" in agents  # the scripted day's figures, in Chinese
        assert "6 分 40 秒" in agents
        assert "售前" in page.locator("#lifecycle-teams").inner_text()
        assert "66.7%" in page.locator("#lifecycle-overall").inner_text()  # SLA compliance
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        # Nothing spills out of the page sideways on a phone: wide tables scroll inside their box.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, overflow
        page.close()
