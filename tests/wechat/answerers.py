from apps.conversations.pipeline import Answer, Turn
from tests.wechat.test_planner import long_answer

LONG_ANSWER = long_answer(6000)


class LongAnswerer:
    """Answers with 6,000+ bytes of Chinese and English sentences."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        return Answer(text=LONG_ANSWER)
