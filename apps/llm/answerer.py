"""The spine's Answerer (settings.DESK_ANSWERER) backed by the endpoint pool (GPU servers or the embedded model)."""

import logging
from typing import Any

from django.conf import settings

from apps.conversations.pipeline import (
    Answer,
    AnswerUnavailable,
    KnowledgeMatch,
    KnowledgeSearch,
    Turn,
    get_knowledge,
    question_unmarked,
)
from apps.core import metrics
from apps.llm import guard, selectors, services
from apps.llm.cache import CachedAnswer, answer_cache, cache_key, prompt_version
from apps.llm.injection import injection_find
from apps.llm.prompt import PromptConfig
from apps.llm.selection import Candidate
from apps.llm.types import Completion, NoEndpointAvailable

logger = logging.getLogger(__name__)


class LLMAnswerer:
    """Cache (first turns) -> injection check -> knowledge direct answer -> out-of-scope decline (no snippet) ->
    the model picks the entry that answers (select mode) or writes from the top snippets (compose) -> draft check."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        # Read once per answer, and only where needed: the cache key (first turns) and composing.
        config = selectors.prompt_config_get() if not context and settings.ANSWER_CACHE_ENABLED else None
        key = self._cache_key(question, config) if config is not None else None
        if key is not None and (hit := answer_cache().get(key)) is not None:
            cached, level = hit
            return Answer(text=cached.text, meta={**cached.meta, "source": "cache", "cache_level": level})
        asked = question_unmarked(question)
        if settings.LLM_INJECTION_CHECK and (attack := injection_find(asked)) is not None:
            # Not sent to the model at all: no prompt can be talked out of what it never sees.
            metrics.answer_guarded(problem="injection", outcome="persona")
            return Answer(
                text=settings.LLM_INJECTION_REPLY, meta={"source": "guard", "guard": "injection", "pattern": attack}
            )
        found = get_knowledge().search(question=asked)
        if found.direct is not None:
            return Answer(text=found.direct.answer, meta=found.direct_meta())
        # On the fused score: the entries the words lift into the top k are the ones the sentence model
        # scores low, and a cosine filter would drop them again (bench/knowledge.py: right entry in the
        # prompt 97.3% -> 99.3% of paraphrases).
        matches = [m for m in found.matches if m.fused >= settings.KNOWLEDGE_SNIPPET_MIN_SCORE]
        if found.matches and not matches and settings.LLM_OUT_OF_SCOPE_DECLINE and not guard.small_talk(asked):
            # The knowledge base has entries and none is near: whatever a model says would be its own
            # invention (the shop's scope is its knowledge base). Decline, and say how to reach a
            # person. A desk with no entries yet still lets the model chat, under the draft check.
            metrics.answer_guarded(problem="out_of_scope", outcome="decline")
            return Answer(text=settings.LLM_OUT_OF_SCOPE_REPLY, meta={"source": "guard", "guard": "out_of_scope"})
        if matches and services.answer_mode() == "select":
            chosen, meta = self._choose(question=asked, matches=matches)
            if chosen is None:
                metrics.answer_guarded(problem="no_entry", outcome="decline")
                return Answer(text=settings.LLM_OUT_OF_SCOPE_REPLY, meta={**meta, "guard": "no_entry"})
            if chosen.direct_allowed:
                meta = {**meta, "entry_id": chosen.entry_id}
                if key is not None:
                    answer_cache().set(key, CachedAnswer(text=chosen.answer, meta=meta))
                return Answer(text=chosen.answer, meta=meta)
            # The admin marked this entry "only the model reads it": compose from it alone.
            matches = [chosen]
        # Each snippet carries its entry id, so the audit can tell which entries an answer stood on.
        snippets = [f"[K{m.entry_id}] 问：{m.question} 答：{m.answer}" for m in matches]
        config = config or selectors.prompt_config_get()
        try:
            completion = services.completion_create(
                question=question, context=context, knowledge=snippets, config=config
            )
        except NoEndpointAvailable as exc:
            raise AnswerUnavailable(str(exc), retryable=exc.retryable) from exc
        meta = {**completion.meta(), "source": "llm", "knowledge_ids": [m.entry_id for m in matches]}
        metrics.llm_completion_observe(meta)
        problem = guard.draft_check(
            draft=completion.text,
            question=question,
            grounds=[*snippets, *(turn.text for turn in context if turn.role != "customer")],
            customer_said=[turn.text for turn in context if turn.role == "customer"],
            secrets=[config.instructions],
        )
        if problem is not None:
            return self._withheld(problem=problem, found=found, meta=meta, completion=completion)
        if key is not None and completion.finish_reason in (None, "stop"):
            answer_cache().set(key, CachedAnswer(text=completion.text, meta=meta))
        return Answer(text=completion.text, reasoning=completion.reasoning, meta=meta)

    @staticmethod
    def _choose(*, question: str, matches: list[KnowledgeMatch]) -> tuple[KnowledgeMatch | None, dict[str, Any]]:
        """The entry the model picks among the snippets (apps/llm/selection.py), or None for none."""
        candidates = [Candidate(entry_id=m.entry_id, question=m.question, answer=m.answer) for m in matches]
        try:
            chosen_id, completion = services.entry_choose(question=question, candidates=candidates)
        except NoEndpointAvailable as exc:
            raise AnswerUnavailable(str(exc), retryable=exc.retryable) from exc
        meta = {
            **completion.meta(),
            "source": "llm_select",
            "knowledge_ids": [m.entry_id for m in matches],
            "choice": completion.text[:32],
        }
        metrics.llm_completion_observe(meta)
        return next((m for m in matches if m.entry_id == chosen_id), None), meta

    @staticmethod
    def _withheld(
        *, problem: guard.Problem, found: KnowledgeSearch, meta: dict[str, Any], completion: Completion
    ) -> Answer:
        """The draft is not sent: the top entry if the search is sure of it (Search.fallback), else a person.

        The withheld draft stays with the reasoning (encrypted on the reply row), so a reviewer can see
        what the model wanted to say; it never reaches the customer.
        """
        meta = {**meta, "guard": problem.kind, "guard_detail": problem.detail}
        withheld = f"【未发送的草稿：{problem.kind} {problem.detail}】\n{completion.text}".strip()
        reasoning = "\n\n".join(part for part in (completion.reasoning, withheld) if part)
        top = found.fallback
        if top is not None:
            metrics.answer_guarded(problem=problem.kind, outcome="knowledge")
            meta = {**meta, "source": "knowledge_fallback", "entry_id": top.entry_id, "score": round(top.score, 4)}
            return Answer(text=top.answer, reasoning=reasoning, meta=meta)
        metrics.answer_guarded(problem=problem.kind, outcome="human")
        logger.info("answer withheld (%s %s); handing over", problem.kind, problem.detail)
        return Answer(text="", reasoning=reasoning, meta=meta, hand_over=f"answer withheld: {problem.kind}")

    @staticmethod
    def _cache_key(question: str, config: PromptConfig) -> str:
        models = sorted({e.model for e in selectors.endpoints_answering()})
        return cache_key(
            question=question,
            model=",".join(models),
            knowledge_version=get_knowledge().version(),
            prompt=f"{prompt_version(config)}:{guard.RULES_VERSION}",
        )
