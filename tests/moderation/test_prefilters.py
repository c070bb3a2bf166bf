"""The cheap check's shortcuts give the same answers as the full work they skip."""

import random

import pytest

from apps.moderation.normalise import fold_fast, normalise, normalise_reference
from apps.moderation.regex_guard import required_digit_run
from tests.moderation.conftest import matcher_of

PHONE = r"(?<!\d)1[3-9]\d{9}(?!\d)"


@pytest.mark.parametrize(
    ("pattern", "run"),
    [
        (PHONE, 11),
        (r"(?<!\d)\d{17}[\dx](?!\d)", 17),
        (r"\d{3}-\d{4}", 4),
        (r"\d{5}\d*\d{2}", 7),  # the starred digits sit between the others
        (r"a|\d{20}", 0),  # an alternative without the digits
        (r"(\d{11})", 0),  # groups are not looked into: no bound, always searched
        (r"\d{0,3}x", 0),
        (r"[^\d]{30}", 0),
        (r"\d{11}{e<=1}", 0),  # the regex module's fuzzy match: one digit may be anything
        (r"\p{Nd}{11}", 0),  # regex-module syntax sre_parse cannot read
    ],
)
def test_the_digit_run_a_regex_term_needs(pattern: str, run: int) -> None:
    assert required_digit_run(pattern) == run


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("电话13812345678", True),
        ("电话１３８１２３４５６７８", True),  # full-width digits fold to ASCII
        ("电话138\u200b12345678", True),  # a zero-width character between the digits is dropped
        ("电话13២៣៤៥៦៧៨៩០", True),  # Khmer digits are \d to the regex module (and no look-alikes)
        ("订单 20261124-0088", False),
        ("电话138 1234 5678", False),  # spaces between digits stay: the pattern wants a run
    ],
)
def test_a_regex_term_is_searched_whenever_it_could_match(text: str, hit: bool) -> None:
    matcher = matcher_of({"text": PHONE, "kind": "regex", "category": "pii"})

    assert bool(matcher.match(text)) is hit


def test_the_fast_fold_agrees_with_the_reference_definition_without_multi_character_folds() -> None:
    rnd = random.Random(23)
    alphabet = "傻傻逼你們好好 *.~～\u200b\u0301，。!ａＢc1１٣@$"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
        fast, reference = normalise(text, folded=fold_fast(text)), normalise_reference(text)
        assert (fast.text, fast.offsets) == (reference.text, reference.offsets), text
