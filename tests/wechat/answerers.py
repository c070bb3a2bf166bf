import re
import time

from apps.conversations.pipeline import Answer, Turn
from tests.wechat.test_planner import long_answer

LONG_ANSWER = long_answer(6000)


class LongAnswerer:
    """Answers with 6,000+ bytes of Chinese and English sentences."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        return Answer(text=LONG_ANSWER)


class DelayedAnswerer:
    """Takes as long as the question says ("[2.0s] …"), like an LLM call, then answers with the question."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        match = re.match(r"\[(\d+(?:\.\d+)?)s\]", question)
        if match:
            time.sleep(float(match.group(1)))
        return Answer(text=f"答：{question}")
