"""Categories becoming rows keeps every term's and rule's category, built in or not."""

from collections.abc import Iterator

import pytest

from tests.support.migrations import latest, migrate, migrated_back_to

BEFORE = [("moderation", "0002_encrypt_at_rest")]


@pytest.fixture
def back_to_fixed_categories(transactional_db: None) -> Iterator[None]:
    with migrated_back_to(BEFORE):
        yield


@pytest.mark.usefixtures("back_to_fixed_categories")
def test_terms_and_rules_keep_their_categories_and_every_one_becomes_a_row() -> None:
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    old_term, old_rule = old.get_model("moderation", "Term"), old.get_model("moderation", "SemanticRule")
    old_term.objects.create(text="代开发票", kind="keyword", category="fraud", severity=4, action="block")
    old_term.objects.create(
        text="百家乐", kind="keyword", category="illegal", severity=4, action="block"
    )  # bench/seed.py
    old_rule.objects.create(category="politics", examples="讨论国家领导人", threshold=0.85, action="hand_over")

    new = migrate(latest()).loader.project_state().apps

    term, rule = new.get_model("moderation", "Term"), new.get_model("moderation", "SemanticRule")
    categories = dict(new.get_model("moderation", "ContentCategory").objects.values_list("key", "name"))
    assert dict(term.objects.values_list("text", "category")) == {"代开发票": "fraud", "百家乐": "illegal"}
    assert list(rule.objects.values_list("category", flat=True)) == ["politics"]
    assert (categories["fraud"], categories["politics"]) == ("", "")  # built in: the translated name
    assert categories["illegal"] == "illegal"
    assert set(categories) >= {"politics", "porn", "fraud", "abuse", "competitor", "pii", "other"}
    assert term.objects.get(text="代开发票").match_initials is False
