"""An admin opens the rule tester from the blacklist in Chromium, pastes a text and reads why."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from apps.moderation import services
from apps.moderation.models import AllowlistEntry, Term
from tests.e2e.conftest import SCREENSHOTS
from tests.security.conftest import roles_ensure

pytestmark = [pytest.mark.browser, pytest.mark.live]
PASSWORD = "pw-admin-12345"


def test_an_admin_sees_each_hit_its_route_the_allowlist_and_the_verdicts(browser: Any, asgi_server: str) -> None:
    roles_ensure()
    admin = User.objects.create_user("ada", password=PASSWORD, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    services.term_save(term=Term(text="傻逼", category="abuse", action="mask", match_initials=True))
    services.term_save(term=Term(text="fuck", category="abuse", action="mask"))
    services.term_save(term=Term(text="色情", category="porn", action="block"))
    services.allowlist_entry_save(entry=AllowlistEntry(phrase="特色情况", category="porn"))

    # Given an admin on the blacklist, who follows its link to the rule tester
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{asgi_server}/admin/login/?next=/admin/moderation/term/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/moderation/term/")
    page.click("#rule-tester-link")
    page.wait_for_url("**/admin/moderation/term/tester/")

    # When they paste a message with a spaced word, Cyrillic letters, initials and an allowed phrase
    page.fill("textarea[name=text]", "你个SB客服，f u с k，说说特色情况")
    page.click("#rule-tester-submit")
    page.wait_for_selector("#verdict")

    # Then every hit is listed with its route, the allowlist's cancellation and the verdict show
    routes = page.locator("#hits tbody tr").evaluate_all("rows => rows.map(r => r.dataset.via)")
    assert sorted(routes) == ["initials", "spaced"]
    assert page.locator("#hits tbody tr").nth(1).inner_text().startswith("7–14\tf u с k\tfuck")
    assert "特色情况" in page.locator("#cancelled").inner_text()
    assert page.get_attribute("#verdict", "data-action") == "mask"
    assert page.locator("#masked").inner_text() == "你个**客服，* * * *，说说特色情况"
    assert page.locator("#normalised").inner_text() == "你个sb客服,f u c k,说特色情况"  # repeats collapse
    page.screenshot(path=str(Path(SCREENSHOTS) / "moderation-rule-tester.png"), full_page=True)
