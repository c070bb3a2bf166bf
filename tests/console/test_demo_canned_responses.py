"""The demo shop's canned responses `make setup` loads (console_demo): once, local desks only, in
the shop's own terms, and usable as "/shortcut" + Tab in the console's composer."""

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.console.demo import demo_canned_responses_rows
from apps.console.models import CannedResponse
from apps.moderation.demo import demo_allowlist, demo_terms
from apps.moderation.matcher import Matcher

pytestmark = pytest.mark.django_db

DEMO_STORE = Path(django_settings.BASE_DIR) / "apps" / "knowledge" / "data" / "demo_store.csv"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def test_the_canned_responses_load_once(settings: Any) -> None:
    settings.DEBUG = True
    out = io.StringIO()

    call_command("console_demo", stdout=out)
    call_command("console_demo", stdout=out)  # again: nothing twice

    rows = demo_canned_responses_rows()
    assert CannedResponse.objects.count() == len(rows) >= 10
    assert out.getvalue().splitlines() == [
        f"Demo shop: {len(rows)} canned responses added.",
        "Demo shop: 0 canned responses added.",
    ]


def test_an_existing_shortcut_keeps_its_text(settings: Any) -> None:
    settings.DEBUG = True
    CannedResponse.objects.create(title="退款", shortcut="refund", body="我们自己的退款说明")

    call_command("console_demo", stdout=io.StringIO())

    assert CannedResponse.objects.get(shortcut="refund").body == "我们自己的退款说明"


def test_a_production_desk_does_not_get_a_made_up_shops_replies(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="local desks only"):
        call_command("console_demo")
    assert not CannedResponse.objects.exists()


def test_the_bodies_state_no_number_the_demo_shop_does_not() -> None:
    # Days, hours and amounts must be the shop's own (apps/knowledge/data/demo_store.csv).
    with DEMO_STORE.open(encoding="utf-8", newline="") as handle:
        known = {number for row in csv.reader(handle) for cell in row for number in NUMBER.findall(cell)}

    invented = {
        row["shortcut"]: set(NUMBER.findall(row["body"])) - known
        for row in demo_canned_responses_rows()
        if set(NUMBER.findall(row["body"])) - known
    }

    assert invented == {}
    assert {"7", "48", "9", "21"} <= {n for row in demo_canned_responses_rows() for n in NUMBER.findall(row["body"])}


def test_the_shortcuts_are_ones_the_composer_completes() -> None:
    # static/console/console.js completes /([\w-]+)$ on Tab; JavaScript's \w is ASCII only.
    shortcuts = [row["shortcut"] for row in demo_canned_responses_rows()]

    assert len(set(shortcuts)) == len(shortcuts)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,32}", shortcut) for shortcut in shortcuts)


def test_the_demo_blacklist_lets_every_body_through() -> None:
    # An agent's reply is moderated on the way out; a canned reply must not be masked or blocked.
    matcher = Matcher(demo_terms(), allowlist=demo_allowlist())

    hit = {row["shortcut"]: found for row in demo_canned_responses_rows() if (found := matcher.match(row["body"]))}

    assert hit == {}
