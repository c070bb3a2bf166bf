"""Reads of the knowledge base: its version, the records an index is built from, search; the examples
of asking for a person and their version."""

import uuid

import numpy as np
from django.conf import settings
from django.core.cache import cache

from apps.knowledge.index import EntryRecord, Search, knowledge_base
from apps.knowledge.models import Entry, HumanRequestExample, embedding_key_of
from apps.moderation.semantic import encoder_identity

KNOWLEDGE_VERSION_KEY = "knowledge:version"
HUMAN_REQUEST_VERSION_KEY = "knowledge:human-request:version"


def _version(key: str) -> str:
    # Created if Redis lost it: each worker then rebuilds once.
    version = cache.get(key)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(key, version, timeout=None):
            version = cache.get(key) or version
    return str(version)


def knowledge_version() -> str:
    """The version every worker compares against; created if Redis lost it (each worker then rebuilds once)."""
    return _version(KNOWLEDGE_VERSION_KEY)


def human_request_version() -> str:
    """Moves whenever an example of asking for a person is added, edited, switched or deleted."""
    return _version(HUMAN_REQUEST_VERSION_KEY)


def human_request_examples() -> list[tuple[str, bool]]:
    """The enabled examples as (text, asks for a person), in a stable order."""
    rows = HumanRequestExample.objects.filter(enabled=True).order_by("pk").values_list("text", "kind")
    return [(text, kind == HumanRequestExample.Kind.POSITIVE) for text, kind in rows]


def entry_records() -> list[EntryRecord]:
    records = []
    rows = Entry.objects.filter(enabled=True).order_by("pk")
    for entry in rows.iterator(chunk_size=2000):
        phrases = entry.phrases()
        fresh = entry.embedding is not None and entry.embedding_key == embedding_key_of(
            model=encoder_identity(settings.KNOWLEDGE_MODEL), phrases=phrases
        )
        vectors = None
        if fresh and entry.embedding is not None:
            vectors = np.frombuffer(bytes(entry.embedding), dtype=np.float32).reshape(len(phrases), -1)
        records.append(
            EntryRecord(
                id=entry.pk,
                question=entry.question,
                answer=entry.answer,
                phrases=tuple(phrases),
                direct=entry.direct_answer,
                vectors=vectors,
            )
        )
    return records


def entries_stale_ids() -> list[int]:
    """Enabled entries whose stored embedding is missing or was computed from other phrasings (or by
    another model or encoder backend)."""
    model = encoder_identity(settings.KNOWLEDGE_MODEL)
    return [
        entry.pk
        for entry in Entry.objects.filter(enabled=True).only("pk", "question", "variants", "embedding_key")
        if entry.embedding_key != embedding_key_of(model=model, phrases=entry.phrases())
    ]


def knowledge_search(*, question: str) -> Search:
    """The top entries for a question and, when one matches closely enough, the direct answer."""
    return knowledge_base().search(question)


def knowledge_version_cached() -> str:
    """The version as this process last saw it (at most KNOWLEDGE_RELOAD_SECONDS old): the answer cache keys on it."""
    return knowledge_base().version()


class KnowledgeStep:
    """The answerer's knowledge step (apps.conversations.pipeline.Knowledge, DESK_KNOWLEDGE)."""

    def search(self, *, question: str) -> Search:
        return knowledge_search(question=question)

    def version(self) -> str:
        return knowledge_version_cached()
