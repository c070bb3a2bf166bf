"""The reply planner: byte limits, sentence boundaries, and the 5-message budget."""

import random

from apps.wechat.planner import reply_plan, sentences, split_text

NOTICE = "（未尽部分请回复“人工”。）"
SENTENCES = [
    "您好，感谢您的耐心等待。",
    "关于退货，我们支持七天无理由退货！",
    "请在订单页面点击“申请售后”，填写原因并上传照片。",
    "Refunds reach the original payment method within 3-5 working days.",
    "如有疑问，欢迎随时联系我们？",
]


def long_answer(target_bytes: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    text = ""
    while len(text.encode("utf-8")) < target_bytes:
        text += rng.choice(SENTENCES) + ("\n" if rng.random() < 0.1 else " " if rng.random() < 0.3 else "")
    return text


def test_a_6000_byte_answer_is_split_on_sentence_boundaries_within_quota() -> None:
    answer = long_answer(6000)
    assert len(answer.encode("utf-8")) >= 6000

    segments = reply_plan(text=answer, max_bytes=2048, budget=5, notice=NOTICE)

    assert 3 <= len(segments) <= 5
    assert "".join(segments) == answer  # nothing lost, nothing added
    boundaries = set()
    offset = 0
    for piece in sentences(answer):
        offset += len(piece)
        boundaries.add(offset)
    offset = 0
    for segment in segments:
        assert len(segment.encode("utf-8")) <= 2048
        offset += len(segment)
        assert offset in boundaries  # every cut falls between two sentences


def test_an_answer_over_budget_ends_with_an_offer_of_a_human() -> None:
    answer = long_answer(20000)

    segments = reply_plan(text=answer, max_bytes=2048, budget=5, notice=NOTICE)

    assert len(segments) == 5
    assert all(len(segment.encode("utf-8")) <= 2048 for segment in segments)
    assert segments[-1].endswith(NOTICE)
    assert answer.startswith("".join(segments[:4]) + segments[4].removesuffix(NOTICE))


def test_a_sentence_longer_than_the_limit_is_cut_at_a_comma_and_never_mid_character() -> None:
    sentence = "，".join(["这是一个非常长的从句"] * 200) + "。"

    segments = split_text(sentence, max_bytes=2048)

    assert "".join(segments) == sentence
    assert all(len(segment.encode("utf-8")) <= 2048 for segment in segments)
    assert all(segment.endswith(("，", "。")) for segment in segments)


def test_no_budget_means_no_segments() -> None:
    assert reply_plan(text="你好。", max_bytes=2048, budget=0, notice=NOTICE) == []
    assert reply_plan(text="你好。", max_bytes=2048, budget=5, notice=NOTICE) == ["你好。"]
