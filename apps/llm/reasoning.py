"""Split DeepSeek-R1 reasoning from the answer. Reasoning is kept for audit, never sent to a customer.

Three shapes reach us:
- vLLM with ``--reasoning-parser deepseek_r1`` streams it in ``reasoning_content`` (older) or ``reasoning`` (newer);
- without the parser the content holds ``<think>…</think>answer``;
- R1's chat template already opens ``<think>`` in the prompt, so the content often starts mid-thought and
  only the closing ``</think>`` shows.

A plain chat model (the embedded Qwen2.5, ``thinks=False``) sends none of these: its content is the
answer, and one cut by max_tokens is trimmed back to its last full sentence instead of being taken
for an unfinished thought.
"""

import re
from dataclasses import dataclass

OPEN = "<think>"
CLOSE = "</think>"
_SENTENCE_END = re.compile(r"[。！？!?…\n]|\.(?=\s|$)")


@dataclass(frozen=True)
class Split:
    reasoning: str
    answer: str


def reasoning_split(*, content: str, reasoning_field: str = "", truncated: bool = False, thinks: bool = True) -> Split:
    """Separate reasoning from answer.

    ``truncated`` (finish_reason == "length") with no closing tag and no reasoning field means a model
    that ``thinks`` ran out of tokens while still thinking: all of it is reasoning, and the answer is
    empty, so that a half-thought never reaches a customer. A model that does not think was cut
    mid-answer: what it said up to its last full sentence is kept.
    """
    reasoning_parts = [reasoning_field.strip()] if reasoning_field.strip() else []
    if CLOSE in content:
        # The last closing tag bounds the thought: anything before it must never be sent.
        head, _, tail = content.rpartition(CLOSE)
        reasoning_parts.append(head.replace(OPEN, "").replace(CLOSE, "").strip())
        answer = tail
    elif OPEN in content:
        # Opened but never closed: the thought was cut off; keep only what came before it.
        head, _, tail = content.partition(OPEN)
        reasoning_parts.append(tail.strip())
        answer = head
    elif truncated and not reasoning_field and thinks:
        reasoning_parts.append(content.strip())
        answer = ""
    elif truncated and not thinks:
        answer = sentences_complete(content)
    else:
        answer = content
    return Split(reasoning="\n\n".join(p for p in reasoning_parts if p), answer=answer.strip())


def sentences_complete(text: str) -> str:
    """``text`` up to the end of its last full sentence (all of it when it has no sentence end)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text.rstrip())]
    return text[: ends[-1]] if ends else text
