"""The demo shop `make setup` loads on a local desk: its FAQ answers a customer's own words directly."""

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.knowledge import selectors
from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
from apps.knowledge.models import Entry


def test_the_demo_shop_loads_once_embedded_and_answers_paraphrases(eager_tasks: None, settings: Any) -> None:
    settings.DEBUG = True
    out = io.StringIO()

    call_command("knowledge_demo", stdout=out)
    call_command("knowledge_demo", stdout=out)  # again: nothing twice

    rows = demo_store_rows()
    assert Entry.objects.count() == len(rows) >= 20
    assert out.getvalue().splitlines() == [
        f"Demo shop: {len(rows)} knowledge entries added.",
        "Demo shop: 0 knowledge entries added.",
    ]
    assert selectors.entries_stale_ids() == []
    found = selectors.knowledge_search(question="我想退货，要怎么弄？")
    assert found.direct is not None
    assert found.direct.answer.startswith("您好，收到商品 7 天内可以申请退货")


@pytest.mark.django_db
def test_a_production_desk_does_not_get_a_made_up_shop(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="local desks only"):
        call_command("knowledge_demo")
    assert not Entry.objects.exists()
