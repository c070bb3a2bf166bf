"""The compiled fold (apps/moderation/_fold.c) gives what the numpy fold and the reference give.

It is what every message takes, so it is held to the two Python definitions on random and
adversarial text: the normalised text, the drops (hence the offsets), the digit run, the
syllable view and the view hint, for every str kind (1, 2 and 4 bytes a character).
"""

import logging
import random

import pytest

from apps.core import memory
from apps.moderation import normalise as normalise_module
from apps.moderation.matcher import _VIEW_HINT
from apps.moderation.normalise import Folded, fold_fast, fold_numpy, normalise, normalise_reference, tables
from apps.moderation.pinyin import syllable_view_fast
from tests.moderation.conftest import matcher_of

compiled = pytest.importorskip("apps.moderation._fold", reason="not compiled: python -m apps.moderation.build_fold")

# Every kind of character the fold treats apart: CJK (simplified, traditional, repeated, astral),
# separators and clause punctuation, zero-width and combining marks, controls, full-width and
# Latin look-alikes, leet and token characters, digits of other scripts, emoji, lone surrogates,
# and multi-character folds (ß, ⑩, ﬀ), which go the reference's way.
ALPHABET = (
    "傻傻逼逼你們好發法轮功冰毒大麻"
    " *.~～_-/|·\t\n\r\x00\x7f"
    "，。、！？；：,.!?;:"
    "\u200b\u200d\ufeff\u0301\u0300\u20dd"
    "ａＢＣｃ１２３ＡаеоΟΚ🅰❶"
    "abcilsx0135@$2789"
    "٣០៣"
    "😀🀄\U00020000\U0002a6d6\U00030000"
    "\ud800\udfff"
    "ßﬀ⑩①"
)


def _random_text(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice(ALPHABET) for _ in range(length))


def _texts() -> list[str]:
    rnd = random.Random(2311)
    texts = [_random_text(rnd, rnd.randint(0, 40)) for _ in range(6000)]
    texts += [
        "",
        "傻",
        "傻 傻 傻逼",
        "傻\u200b\u200b傻 ,逼",
        "加 q q 群",
        "a s s",
        "sh1t k1ll @ss",
        "冰1毒 冰 1 毒",
        "電話１３８\u200b１２３４５６７８",
        "é\u0301\u0301",
        "latin-1 only: café résumé",  # a 1-byte str
        "\U0001f600" * 300,  # a 4-byte str past the stack buffer
        "傻" * 10_000,
        ("快递单号是SF1234567890，" * 500)[:10_000],
        _random_text(rnd, 10_000).replace("ß", "").replace("ﬀ", "").replace("⑩", ""),
    ]
    return texts


def _drops(folded: Folded) -> list[int]:
    return sorted(set(folded.drops))


def test_the_compiled_fold_agrees_with_the_numpy_fold_and_the_reference() -> None:
    for text in _texts():
        ours, numpy, reference = fold_fast(text, True), fold_numpy(text), normalise_reference(text)
        assert ours.text == numpy.text == reference.text, text
        offsets = normalise(text, folded=ours).offsets
        assert offsets == normalise(text, folded=numpy).offsets == reference.offsets, text
        if ours.reference is not None:
            continue  # a multi-character fold: both took the reference's way
        assert _drops(ours) == _drops(numpy) == ours.drops, text
        assert ours.syllables == syllable_view_fast(ours.text), text
        assert ours.hint is (_VIEW_HINT.search(ours.text) is not None), text
        for length in range(1, 20):
            assert ours.has_digit_run(length) == numpy.has_digit_run(length), (text, length)


def test_the_view_hint_agrees_with_the_regex_on_latin_heavy_text() -> None:
    """The hint is the one C part no table defines: held to the regex on the text it is about."""
    rnd = random.Random(5)
    alphabet = "abilos0135@$27 _-.*，傻逼冰毒x\u00a0·"
    for _ in range(20_000):
        folded = fold_fast("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 14))))
        assert folded.hint is (_VIEW_HINT.search(folded.text) is not None), folded.text


def test_lone_surrogates_are_deleted_and_the_matcher_reads_across_them() -> None:
    assert fold_fast("傻\ud800逼").text == fold_numpy("傻\ud800逼").text == "傻逼"
    (hit,) = matcher_of({"text": "傻逼"}).match("你\ud800傻\udfff逼")

    assert (hit.start, hit.end, hit.matched) == (2, 5, "傻\udfff逼")


def test_repeated_calls_do_not_grow_the_process() -> None:
    """Every message goes through here: a leaked reference or buffer would show within 200k calls."""
    texts = ["傻 傻逼，電話１３８\u200b１２３４５６７８ a s s" * 8, "😀" * 2000, "", "ß"]

    def rss_kib() -> int:
        return memory.rss_bytes() // 1024

    for text in texts * 1000:
        fold_fast(text, True)
    before = rss_kib()
    for _ in range(50_000):
        for text in texts:
            fold_fast(text, True)
    assert rss_kib() - before < 2048


def test_init_refuses_a_table_it_cannot_trust_or_a_result_class_it_cannot_fill() -> None:
    with pytest.raises(ValueError, match="0x110000"):
        compiled.init(tables().packed[:100], Folded)
    with pytest.raises(TypeError, match="NamedTuple"):
        compiled.init(tables().packed, dict)
    corrupt = tables().packed.copy()
    corrupt[65] = 0x200000  # no code point: the view table would be read out of bounds
    with pytest.raises(ValueError, match="entry 65"):
        compiled.init(corrupt, Folded)


def test_without_the_compiled_module_the_numpy_fold_serves_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(normalise_module, "_compiled_fold", None)
    monkeypatch.setattr(normalise_module, "_prepared", [None, None])
    with caplog.at_level(logging.WARNING, logger="apps.moderation.normalise"):
        first, second = fold_fast("傻 傻逼"), fold_fast("加 q q 群", True)

    assert (first.text, first.kinds is not None, second.syllables) == ("傻逼", True, None)
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "not compiled" in caplog.records[0].message
