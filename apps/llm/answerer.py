"""The spine's Answerer (settings.DESK_ANSWERER) backed by the endpoint pool (GPU servers or the embedded model)."""

from django.conf import settings

from apps.conversations.pipeline import Answer, AnswerUnavailable, Turn, get_knowledge, question_unmarked
from apps.core import metrics
from apps.llm import selectors, services
from apps.llm.cache import CachedAnswer, answer_cache, cache_key, prompt_version
from apps.llm.types import NoEndpointAvailable


class LLMAnswerer:
    """Cache (first turns) -> knowledge direct answer -> LLM with the top knowledge snippets."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        key = self._cache_key(question) if not context and settings.ANSWER_CACHE_ENABLED else None
        if key is not None and (hit := answer_cache().get(key)) is not None:
            cached, level = hit
            return Answer(text=cached.text, meta={**cached.meta, "source": "cache", "cache_level": level})
        found = get_knowledge().search(question=question_unmarked(question))
        if found.direct is not None:
            return Answer(text=found.direct.answer, meta=found.direct_meta())
        snippets = found.snippets(min_score=settings.KNOWLEDGE_SNIPPET_MIN_SCORE)
        try:
            completion = services.completion_create(question=question, context=context, knowledge=snippets)
        except NoEndpointAvailable as exc:
            raise AnswerUnavailable(str(exc), retryable=exc.retryable) from exc
        meta = {
            **completion.meta(),
            "source": "llm",
            "knowledge_ids": [m.entry_id for m in found.matches][: len(snippets)],
        }
        metrics.llm_completion_observe(meta)
        if key is not None and completion.text and completion.finish_reason in (None, "stop"):
            answer_cache().set(key, CachedAnswer(text=completion.text, meta=meta))
        return Answer(text=completion.text, reasoning=completion.reasoning, meta=meta)

    @staticmethod
    def _cache_key(question: str) -> str:
        models = sorted({e.model for e in selectors.endpoints_answering()})
        return cache_key(
            question=question,
            model=",".join(models),
            knowledge_version=get_knowledge().version(),
            prompt=prompt_version(selectors.prompt_config_get()),
        )
