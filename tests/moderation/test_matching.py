"""Blacklist matching: evasions are caught, benign text is not, spans point at the original."""

import pytest

from apps.moderation.matcher import mask
from apps.moderation.normalise import normalise, normalise_reference
from tests.moderation.conftest import matcher_of

TERMS = matcher_of(
    {"text": "傻逼"},
    {"text": "代开发票", "category": "fraud"},
    {"text": "fuck"},
    {"text": "18禁", "category": "porn"},
    {"text": "法轮功", "category": "politics", "match_pinyin": True},
    {"text": "ass"},
)


@pytest.mark.parametrize(
    ("evasion", "text", "term", "matched"),
    [
        ("plain", "你这个傻逼客服", "傻逼", "傻逼"),
        ("full-width letters", "ＦＵＣＫ you", "fuck", "ＦＵＣＫ"),
        ("upper and mixed case", "FuCk this", "fuck", "FuCk"),
        ("circled digits (NFKC)", "①⑧禁视频", "18禁", "①⑧禁"),
        ("traditional characters", "專業代開發票", "代开发票", "代開發票"),
        ("zero-width characters", "傻\u200b逼\u200d", "傻逼", "傻\u200b逼"),
        ("spaces between characters", "你 傻 逼", "傻逼", "傻 逼"),
        ("symbols between characters", "代*开.发_票", "代开发票", "代*开.发_票"),
        ("repeated characters", "傻傻傻逼逼", "傻逼", "傻傻傻逼逼"),
        ("everything at once", "代 開\u200b開 發★票", "代开发票", "代 開\u200b開 發★票"),
        ("pinyin", "你知道 fa lun gong 吗", "法轮功", "fa lun gong"),
        ("pinyin, mixed case", "FaLunGong", "法轮功", "FaLunGong"),
        ("homophones", "发轮功是什么", "法轮功", "发轮功"),
    ],
)
def test_it_catches_each_evasion_of_a_listed_term(evasion: str, text: str, term: str, matched: str) -> None:
    hits = TERMS.match(text)

    assert [hit.term for hit in hits] == [term], evasion
    assert hits[0].matched == matched
    assert text[hits[0].start : hits[0].end] == matched


@pytest.mark.parametrize(
    "text",
    [
        "我好傻，逼不得已才来问的",  # 傻 and 逼 in different clauses
        "傻了吧，真逼真",  # other characters between them
        "请帮我代为开具一张发票",  # 代 开 发 票 spread out
        "This is a classic class",  # "ass" inside words
        "发货了吗？轮到我了吧，功能怎么用",  # pinyin of the term spread over a sentence
    ],
)
def test_it_does_not_flag_a_benign_sentence_holding_a_terms_characters_apart(text: str) -> None:
    assert TERMS.match(text) == []


def test_it_reports_every_hit_with_its_category_and_span() -> None:
    text = "傻逼，代开发票加我"

    hits = TERMS.match(text)

    assert [(h.term, h.category, h.start, h.end) for h in hits] == [
        ("傻逼", "abuse", 0, 2),
        ("代开发票", "fraud", 3, 7),
    ]


def test_masking_replaces_only_the_hits_and_keeps_the_rest_intact() -> None:
    matcher = matcher_of(
        {"text": "傻逼", "action": "mask"},
        {"text": r"1[3-9]\d{9}", "kind": "regex", "category": "pii", "action": "mask"},
    )
    text = "您好 傻 逼，我的电话是１３８１２３４５６７８，明天 10 点前回电，谢谢！"

    masked = mask(text, matcher.match(text))

    assert masked == "您好 * *，我的电话是***********，明天 10 点前回电，谢谢！"


def test_regex_terms_match_the_normalised_text_and_report_original_spans() -> None:
    matcher = matcher_of({"text": r"微信[:：]?[a-z0-9_]{6,20}", "kind": "regex", "category": "competitor"})
    text = "加我微 信：ＡＢＣ_12345 详聊"

    (hit,) = matcher.match(text)

    assert hit.matched == "微 信：ＡＢＣ_12345"
    assert hit.via == "regex"


def test_the_vectorised_normaliser_agrees_with_the_reference_definition() -> None:
    import random

    rnd = random.Random(7)
    alphabet = "傻逼你們好 *.\u200b\u0301，。!ａＢc1①⑩ß發"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16)))
        fast, reference = normalise(text), normalise_reference(text)
        assert (fast.text, fast.offsets) == (reference.text, reference.offsets), text
