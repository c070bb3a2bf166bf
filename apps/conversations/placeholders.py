"""Stand-ins for the LLM and moderation steps until their apps plug in.

They implement the real interfaces (apps.conversations.pipeline) so the spine, its tests
and its benchmark exercise exactly the path the real steps will use.
"""

from typing import Literal

from apps.conversations.pipeline import Answer, Turn, Verdict


class EchoAnswerer:
    """Answers instantly by quoting the question; the spine's own cost is then what is measured."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        return Answer(text=f"您好！您说的是：“{question}”。客服助手已收到。", meta={"answerer": "echo"})


class AllowAllModerator:
    def check(self, *, text: str, direction: Literal["in", "out"], message_id: int | None = None) -> Verdict:
        return Verdict(action="allow", text=text)
