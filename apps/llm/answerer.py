"""The spine's Answerer (settings.DESK_ANSWERER) backed by the endpoint pool or the embedded model."""

from apps.conversations.pipeline import Answer, AnswerUnavailable, Turn
from apps.llm import services
from apps.llm.types import NoEndpointAvailable


class LLMAnswerer:
    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        try:
            completion = services.completion_create(question=question, context=context)
        except NoEndpointAvailable as exc:
            raise AnswerUnavailable(str(exc)) from exc
        return Answer(text=completion.text, reasoning=completion.reasoning, meta=completion.meta())
