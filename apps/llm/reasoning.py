"""Split DeepSeek-R1 reasoning from the answer. Reasoning is kept for audit, never sent to a customer.

Three shapes reach us:
- vLLM with ``--reasoning-parser deepseek_r1`` streams it in ``reasoning_content`` (older) or ``reasoning`` (newer);
- without the parser the content holds ``<think>…</think>answer``;
- R1's chat template already opens ``<think>`` in the prompt, so the content often starts mid-thought and
  only the closing ``</think>`` shows.
"""

from dataclasses import dataclass

OPEN = "<think>"
CLOSE = "</think>"


@dataclass(frozen=True)
class Split:
    reasoning: str
    answer: str


def reasoning_split(*, content: str, reasoning_field: str = "", truncated: bool = False) -> Split:
    """Separate reasoning from answer.

    ``truncated`` (finish_reason == "length") with no closing tag and no reasoning field means the model
    ran out of tokens while still thinking: all of it is reasoning, and the answer is empty, so that a
    half-thought never reaches a customer.
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
    elif truncated and not reasoning_field:
        reasoning_parts.append(content.strip())
        answer = ""
    else:
        answer = content
    return Split(reasoning="\n\n".join(p for p in reasoning_parts if p), answer=answer.strip())
