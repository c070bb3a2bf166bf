"""Prompt building: a sliding window of the conversation, capped by turns and by an estimated token budget."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from apps.conversations.pipeline import Turn

_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class PromptConfig:
    instructions: str
    instructions_in_user_turn: bool
    temperature: float
    top_p: float
    max_tokens: int
    context_turns: int
    context_max_tokens: int


def tokens_estimate(text: str) -> int:
    """Rough count without a tokenizer: a CJK character is about one token, other text about four chars."""
    wide = len(_WIDE.findall(text))
    return wide + (len(text) - wide + 3) // 4


def _window(context: Sequence[Turn], *, turns: int, budget: int) -> list[Turn]:
    recent = list(context[-turns * 2 :]) if turns else []
    kept: list[Turn] = []
    used = 0
    for turn in reversed(recent):
        cost = tokens_estimate(turn.text)
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    # A window should open on the customer's words, not on a reply to something no longer shown.
    while kept and kept[0].role != "customer":
        kept.pop(0)
    return kept


def messages_build(
    *, config: PromptConfig, context: Sequence[Turn], question: str, knowledge: Sequence[str] = ()
) -> list[dict[str, str]]:
    """OpenAI chat messages. With ``instructions_in_user_turn`` (R1's advice) there is no system message."""
    instructions = config.instructions.strip()
    if knowledge:
        snippets = "\n".join(f"- {k.strip()}" for k in knowledge if k.strip())
        instructions = f"{instructions}\n\n参考资料：\n{snippets}".strip()
    messages: list[dict[str, str]] = []
    if instructions and not config.instructions_in_user_turn:
        messages.append({"role": "system", "content": instructions})
    for turn in _window(context, turns=config.context_turns, budget=config.context_max_tokens):
        _append(messages, "user" if turn.role == "customer" else "assistant", turn.text)
    final = f"{instructions}\n\n顾客：{question}" if instructions and config.instructions_in_user_turn else question
    _append(messages, "user", final)
    return messages


def _append(messages: list[dict[str, str]], role: str, text: str) -> None:
    # Chat templates expect user/assistant to alternate; an agent's two replies in a row become one turn.
    if messages and messages[-1]["role"] == role:
        messages[-1] = {"role": role, "content": f"{messages[-1]['content']}\n{text}"}
    else:
        messages.append({"role": role, "content": text})
