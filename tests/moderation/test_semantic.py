"""Semantic rules with the packaged sentence model (loads the real model: keep this file small)."""

import pytest

from apps.moderation import services
from apps.moderation.models import SemanticRule
from apps.moderation.moderator import ContentModerator

pytestmark = pytest.mark.django_db

FRAUD_EXAMPLES = "帮我刷单返利，先垫付再返还\n加我私人微信转账到个人账户可以便宜"


@pytest.fixture
def fraud_rule() -> SemanticRule:
    return services.semantic_rule_save(
        rule=SemanticRule(category="fraud", examples=FRAUD_EXAMPLES, threshold=0.83, action="hand_over")
    )


@pytest.mark.usefixtures("fraud_rule")
def test_a_paraphrase_of_an_example_is_sent_to_a_human_with_its_score() -> None:
    paraphrase, benign = "别走平台了，直接打款到我个人卡上有折扣", "请问我的快递什么时候能到？"

    flagged, allowed = ContentModerator(record_flags=False).check_many([paraphrase, benign], direction="in")

    (hit,) = flagged.evidence["semantic"]
    assert flagged.action == "review"
    assert hit["category"] == "fraud"
    assert hit["score"] >= 0.83
    assert hit["example"] in FRAUD_EXAMPLES.splitlines()
    assert allowed.action == "allow"
