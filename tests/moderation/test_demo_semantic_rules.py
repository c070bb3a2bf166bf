"""The demo semantic rules `make setup` loads: they catch a shop's complaints, scams and abuse in
customers' own words and leave its ordinary questions and replies alone (the packaged model, no mocks).

bench/moderation.py prints each rule's similarities; the thresholds sit above the highest score any
shop question reaches.
"""

import io

import pytest
from django.core.management import call_command

from apps.moderation.demo import demo_semantic_rules, demo_semantic_rules_rows
from apps.moderation.models import SemanticRule
from apps.moderation.moderator import ContentModerator
from apps.moderation.semantic import Embedder, SemanticRules
from peers.moderation_dataset import PARAPHRASES, shop_questions, shop_replies


@pytest.fixture(scope="module")
def rules() -> SemanticRules:
    return SemanticRules(demo_semantic_rules(), Embedder())


def tripped(rules: SemanticRules, texts: list[str]) -> list[tuple[str, str, float]]:
    return [
        (text, hit.category, round(hit.score, 3))
        for text, hits in zip(texts, rules.score(texts), strict=True)
        for hit in hits
    ]


@pytest.mark.django_db
def test_the_demo_semantic_rules_load_once() -> None:
    out = io.StringIO()

    call_command("moderation_demo", stdout=out)
    call_command("moderation_demo", stdout=out)  # again: nothing twice

    rows = demo_semantic_rules_rows()
    assert SemanticRule.objects.count() == len(rows) >= 4
    assert f"and {len(rows)} semantic rules added." in out.getvalue().splitlines()[0]
    assert out.getvalue().splitlines()[1].endswith("and 0 semantic rules added.")


@pytest.mark.django_db
def test_a_rule_the_admin_tuned_is_not_added_again() -> None:
    row = demo_semantic_rules_rows()[0]
    SemanticRule.objects.create(category=row["category"], examples="我要投诉", threshold=0.9, note=row["note"])

    call_command("moderation_demo", stdout=io.StringIO())

    assert SemanticRule.objects.filter(note=row["note"]).count() == 1


def test_every_rule_catches_most_of_its_unseen_paraphrases(rules: SemanticRules) -> None:
    notes = {i + 1: row["note"] for i, row in enumerate(demo_semantic_rules_rows())}  # demo_semantic_rules' ids
    assert set(PARAPHRASES) == set(notes.values())

    caught: dict[str, int] = {}
    for rule in rules.rules:
        paraphrases = PARAPHRASES[notes[rule.id]]
        scores = [next(h.score for h in hits if h.rule_id == rule.id) for hits in rules.best(paraphrases)]
        caught[notes[rule.id]] = sum(score >= rule.threshold for score in scores)

    assert min(caught.values()) >= 3, caught


def test_no_rule_trips_on_the_shop_questions(rules: SemanticRules) -> None:
    questions = shop_questions()

    assert len(questions) > 200
    assert tripped(rules, questions) == []


def test_no_rule_trips_on_the_shop_answers_or_canned_responses(rules: SemanticRules) -> None:
    # Bot answers and agents' replies are checked on the way out: a tripped rule would withhold them.
    assert tripped(rules, shop_replies()) == []


@pytest.mark.django_db
def test_a_loaded_complaint_rule_hands_the_conversation_to_a_person() -> None:
    call_command("moderation_demo", stdout=io.StringIO())
    complaint, question = "我要维权，去法院告你们", "退款几天到账"

    handed, answered = ContentModerator(record_flags=False).check_many([complaint, question], direction="in")

    assert handed.action == "review"
    assert [hit["category"] for hit in handed.evidence["semantic"]] == ["other"]
    assert answered.action == "allow"
