from apps.conversations.pipeline import Answer, Turn


class PoliteAnswerer:
    """Answers without quoting the customer, so a flagged word is flagged once (inbound only)."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        return Answer(text="您好，这里是智能客服，很高兴为您服务。")
