"""The second-level routes: each catches its evasion, names itself, points at the original span,
and leaves its benign look-alike alone."""

import random

import pytest

from apps.moderation.latin import latin_view, latin_view_fast
from apps.moderation.matcher import mask
from apps.moderation.normalise import fold_fast, normalise, normalise_reference
from tests.moderation.conftest import matcher_of

TERMS = matcher_of(
    {"text": "傻逼", "match_pinyin": True, "match_initials": True},
    {"text": "操你妈", "match_initials": True},
    {"text": "代开发票", "category": "fraud"},
    {"text": "冰毒", "category": "other", "match_inserted": True},
    {"text": "大麻", "category": "other"},
    {"text": "fuck"},
    {"text": "ass"},
    {"text": "shit"},
    {"text": "kill"},
    {"text": "porn", "category": "porn"},
    {"text": "qq群", "category": "competitor"},
    {"text": "法轮功", "category": "politics", "match_pinyin": True},
)


@pytest.mark.parametrize(
    ("route", "text", "term", "matched"),
    [
        ("confusable", "pоrn", "porn", "pоrn"),  # Cyrillic о
        ("confusable", "ѕhіt happens", "shit", "ѕhіt"),  # Cyrillic ѕ, і
        ("confusable", "PΟRN", "porn", "PΟRN"),  # Greek capital omicron
        ("confusable", "🅰ss", "ass", "🅰ss"),  # a letter-like symbol
        ("confusable", "fúck", "fuck", "fúck"),  # a diacritic
        ("spaced", "a s s", "ass", "a s s"),
        ("spaced", "you are f.u.c.k.", "fuck", "f.u.c.k"),
        ("spaced", "加 q q 群 聊", "qq群", "q q 群"),
        ("spaced", "F-U-C-K", "fuck", "F-U-C-K"),
        ("leet", "@ss", "ass", "@ss"),
        ("leet", "a$$ hole", "ass", "a$$"),
        ("leet", "p0rn site", "porn", "p0rn"),
        ("leet", "sh1t", "shit", "sh1t"),
        ("leet", "k1ll them", "kill", "k1ll"),
        ("leet", "s h 1 t", "shit", "s h 1 t"),
        ("initials", "你是sb吗", "傻逼", "sb"),
        ("initials", "你是 S.B. 吗", "傻逼", "S.B"),
        ("initials", "CNM，退钱", "操你妈", "CNM"),
        ("initials", "你个傻B", "傻逼", "傻B"),
        ("initials", "s逼客服", "傻逼", "s逼"),
        ("pinyin", "沙比客服", "傻逼", "沙比"),
        ("pinyin", "法lun功", "法轮功", "法lun功"),
        ("inserted", "冰1毒哪里买", "冰毒", "冰1毒"),
        ("inserted", "专业代x开发票", "代开发票", "代x开发票"),
        ("inserted", "代开 9 发票", "代开发票", "代开 9 发票"),
    ],
)
def test_each_route_catches_its_evasion_and_names_itself(route: str, text: str, term: str, matched: str) -> None:
    (hit,) = TERMS.match(text)

    assert (hit.term, hit.via, hit.matched) == (term, route, matched)
    assert text[hit.start : hit.end] == matched


@pytest.mark.parametrize(
    "text",
    [
        # confusable: other scripts as themselves, and look-alikes that are no letters
        "Привет, как дела?",
        "Ελληνικά",
        # spaced: single letters in a sentence about assets, a list of options, a grade
        "We sold a s s e t s last year",
        "Options: a, s, s",
        "I got a B in maths",
        # leet: model numbers, prices, order numbers, short codes
        "支持5G吗？mp3 格式可以吗",
        "SF1234567890 到哪了",
        "Huawei p30 pro",
        "价格 $55",
        # initials: inside longer words and numbers
        "USB 接口坏了",
        "订单号 sb1234",
        "SBS 电视台",
        # pinyin: homophones of a two-syllable term that are ordinary words stay clean unless marked
        "沙发很舒服",
        "fa lun 是谁",
        # inserted: a two-character term not marked for it, and digits between ordinary words
        "大1麻",
        "我买了2件衣服，第1名",
        "代开2发3票",  # two insertions: not "one inserted character"
    ],
)
def test_each_routes_benign_look_alike_stays_clean(text: str) -> None:
    assert TERMS.match(text) == []


def test_a_box_drawing_bar_between_cjk_is_a_separator_not_a_letter() -> None:
    # │ looks like l (confusables.txt says so) but is no letter: it must stay a separator,
    # so 傻│逼 still reads as one word and an l-term is not created out of it.
    assert normalise("傻│逼").text == "傻逼"
    assert [h.via for h in TERMS.match("傻│逼")] == ["keyword"]


def test_masks_stay_exact_through_look_alikes_and_spaced_letters() -> None:
    matcher = matcher_of({"text": "fuck", "action": "mask"}, {"text": "ass", "action": "mask"})
    text = "ＦＵСＫ this, you a s s!"  # full-width letters and a Cyrillic С

    assert mask(text, matcher.match(text)) == "**** this, you * * *!"


def test_the_fast_fold_and_the_offset_normaliser_agree_with_the_definition_on_look_alikes() -> None:
    rnd = random.Random(23)
    alphabet = "傻逼你們好 *.\u200b\u0301，。!ａＢc1①⑩ß發аοΚ🅰│〇ó"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16)))
        reference = normalise_reference(text)
        assert normalise(text) == reference, text
        assert fold_fast(text).text == reference.text, text


def test_the_fast_latin_view_agrees_with_the_indexed_one() -> None:
    rnd = random.Random(5)
    alphabet = "as$@0135 .-群傻,k1lx"
    for _ in range(3000):
        text = normalise("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))).text
        view, index, _changed = latin_view(text)
        assert latin_view_fast(text) == view, text
        assert len(index) == len(view)
        assert all(text[i] == c or c in "aseo" for i, c in zip(index, view, strict=True)), text


def test_the_cheap_check_never_misses_what_the_exact_pass_finds() -> None:
    # match() trusts the cheap check to skip clean messages; explain() always takes the exact pass.
    rnd = random.Random(11)
    pieces = ["傻", "逼", "sb", "S", "B", "代开", "发票", "冰", "毒", "1", "x", " ", ".", "@", "$", "a", "s", "h", "t"]
    pieces += ["f", "u", "c", "k", "q", "群", "沙", "比", "法", "lun", "功", "о", "，", "好", "\u200b", "大", "麻"]
    for _ in range(4000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 10)))
        assert TERMS.match(text) == TERMS.explain(text).hits, text
