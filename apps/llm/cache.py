"""The answer cache: an in-process LRU in front of Redis, for context-free first turns.

Why here and not in apps/knowledge: it caches LLM completions, and what makes a cached answer
valid is mostly the LLM layer's (model, prompt); knowledge only contributes a version string.
The key is a digest of the normalised question + the models that could answer + the knowledge
version + the prompt version, so any change to the entries or the prompt moves every key: old
answers are never served again and simply age out (LRU eviction, Redis TTL). Nothing is
deleted, so invalidation is atomic across workers without a scan.

A turn with context is never cached: the same words mean different things mid-conversation.
"""

import hashlib
import json
import logging
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache as redis_cache
from prometheus_client import Counter

from apps.llm.prompt import PromptConfig

logger = logging.getLogger(__name__)

LOOKUPS = Counter("desk_answer_cache_lookups_total", "Answer cache lookups by outcome", ["result"])
Level = Literal["memory", "redis"]
# Punctuation, symbols and spaces carry no meaning for a cache key ("退货？" == "退货").
_DROPPED = frozenset({"P", "S", "Z", "C"})


def question_normalise(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _DROPPED)


def prompt_version(config: PromptConfig) -> str:
    return hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:16]


def cache_key(*, question: str, model: str, knowledge_version: str, prompt: str) -> str:
    parts = "\x1f".join([question_normalise(question), model, knowledge_version, prompt])
    # Under the LLM layer's Redis prefix, like the breaker state (a test or a second desk gets its own).
    return f"{settings.LLM_REDIS_PREFIX}:answers:v1:" + hashlib.sha256(parts.encode()).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class CacheStats:
    memory_hits: int = 0
    redis_hits: int = 0
    misses: int = 0


class AnswerCache:
    def __init__(self, *, size: int, ttl_s: int) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._lru: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[CachedAnswer, Level] | None:
        with self._lock:
            found = self._lru.get(key)
            if found is not None:
                self._lru.move_to_end(key)
                self.stats.memory_hits += 1
        if found is not None:
            LOOKUPS.labels("memory_hit").inc()
            return found, "memory"
        try:
            raw = redis_cache.get(key)
        except Exception:
            # A cache is an optimisation: Redis trouble means a miss, never a failed answer.
            logger.warning("answer cache: Redis read failed", exc_info=True)
            raw = None
        if raw is None:
            with self._lock:
                self.stats.misses += 1
            LOOKUPS.labels("miss").inc()
            return None
        answer = CachedAnswer(text=raw["text"], meta=raw.get("meta", {}))
        self._remember(key, answer)
        with self._lock:
            self.stats.redis_hits += 1
        LOOKUPS.labels("redis_hit").inc()
        return answer, "redis"

    def set(self, key: str, answer: CachedAnswer) -> None:
        self._remember(key, answer)
        try:
            redis_cache.set(key, {"text": answer.text, "meta": answer.meta}, timeout=self.ttl_s)
        except Exception:
            logger.warning("answer cache: Redis write failed", exc_info=True)

    def _remember(self, key: str, answer: CachedAnswer) -> None:
        with self._lock:
            self._lru[key] = answer
            self._lru.move_to_end(key)
            while len(self._lru) > self.size:
                self._lru.popitem(last=False)

    def clear_local(self) -> None:
        with self._lock:
            self._lru.clear()
            self.stats = CacheStats()


@cache
def answer_cache() -> AnswerCache:
    return AnswerCache(size=settings.ANSWER_CACHE_LRU_SIZE, ttl_s=settings.ANSWER_CACHE_TTL_S)
