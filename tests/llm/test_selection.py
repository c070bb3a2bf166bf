"""Select mode's prompt and parsing (apps/llm/selection.py)."""

from apps.llm.selection import Candidate, selection_parse, selection_request


def test_the_request_lists_the_candidates_by_id_and_asks_for_one_short_greedy_answer() -> None:
    request = selection_request(
        question="能开发票吗",
        candidates=[Candidate(7, "可以开发票吗？", "可以。"), Candidate(9, "运费多少？", "6 元。")],
    )

    assert request.max_tokens == 8
    assert request.temperature == 0.0
    system, user = request.messages
    assert system["role"] == "system"
    assert "K7：问：可以开发票吗？ 答：可以。\nK9：问：运费多少？ 答：6 元。" in user["content"]
    assert user["content"].endswith("顾客的问题：能开发票吗\n\n能回答这个问题的资料编号：")


def test_only_an_offered_id_is_a_choice() -> None:
    assert selection_parse("K7", offered=[7, 9]) == 7
    assert selection_parse("k 9。", offered=[7, 9]) == 9
    assert selection_parse("资料K9能回答", offered=[7, 9]) == 9
    assert selection_parse("无", offered=[7, 9]) is None
    assert selection_parse("K12", offered=[7, 9]) is None
    assert selection_parse("7", offered=[7, 9]) is None
