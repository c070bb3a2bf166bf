"""Writes of the knowledge base. Every change bumps the version that makes workers rebuild their index
and that the answer cache keys on, so an edited entry never answers from a stale cache."""

import uuid

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core.side_effects import enqueue_on_commit
from apps.knowledge.index import knowledge_base
from apps.knowledge.models import Entry, HumanRequestExample, embedding_key_of
from apps.knowledge.selectors import HUMAN_REQUEST_VERSION_KEY, KNOWLEDGE_VERSION_KEY, entries_stale_ids
from apps.moderation.semantic import encoder_identity


def knowledge_version_bump() -> None:
    """Tell every worker the knowledge changed, once the change is visible to them."""
    transaction.on_commit(lambda: cache.set(KNOWLEDGE_VERSION_KEY, uuid.uuid4().hex, timeout=None))


def _enqueue_embedding(entry_id: int) -> None:
    from apps.knowledge.tasks import embed_entry

    enqueue_on_commit(embed_entry, entry_id)


def entry_save(*, entry: Entry) -> Entry:
    entry.full_clean()
    with transaction.atomic():
        entry.save()
        knowledge_version_bump()
        _enqueue_embedding(entry.pk)
    return entry


def entries_delete(*, entries: list[Entry]) -> int:
    with transaction.atomic():
        deleted, _ = Entry.objects.filter(pk__in=[e.pk for e in entries]).delete()
        knowledge_version_bump()
    return deleted


def entries_set_enabled(*, entries: list[Entry], enabled: bool) -> int:
    with transaction.atomic():
        changed = Entry.objects.filter(pk__in=[e.pk for e in entries]).update(
            enabled=enabled, updated_at=timezone.now()
        )
        knowledge_version_bump()
        if enabled:
            for entry in entries:
                _enqueue_embedding(entry.pk)
    return changed


def entries_imported() -> None:
    """After a CSV/XLSX import: workers rebuild, and the embed task catches up on the new rows."""
    from apps.knowledge.tasks import embed_stale_entries

    knowledge_version_bump()
    enqueue_on_commit(embed_stale_entries)


def entry_embed(*, entry_id: int) -> bool:
    """Store the entry's phrase vectors unless they are current. Idempotent; True when it wrote."""
    entry = Entry.objects.filter(pk=entry_id).only("pk", "question", "variants", "embedding_key").first()
    if entry is None:
        return False
    phrases = entry.phrases()
    key = embedding_key_of(model=encoder_identity(settings.KNOWLEDGE_MODEL), phrases=phrases)
    if entry.embedding_key == key:
        return False
    vectors = np.ascontiguousarray(knowledge_base().embedder.encode_reference(phrases), dtype=np.float32)
    with transaction.atomic():
        # Only if nobody edited the phrasings meanwhile: their own task will embed the new ones.
        written = Entry.objects.filter(pk=entry_id, question=entry.question, variants=entry.variants).update(
            embedding=vectors.tobytes(), embedding_key=key
        )
        if written:
            knowledge_version_bump()
    return bool(written)


def entries_embed_stale() -> int:
    return sum(entry_embed(entry_id=pk) for pk in entries_stale_ids())


def human_request_version_bump() -> None:
    """Every worker refits its human-request classifier once the change is visible to it."""
    transaction.on_commit(lambda: cache.set(HUMAN_REQUEST_VERSION_KEY, uuid.uuid4().hex, timeout=None))


def human_request_example_save(*, example: HumanRequestExample) -> HumanRequestExample:
    example.text = example.text.strip()
    example.full_clean()
    with transaction.atomic():
        example.save()
        human_request_version_bump()
    return example


def human_request_examples_delete(*, examples: list[HumanRequestExample]) -> int:
    with transaction.atomic():
        deleted, _ = HumanRequestExample.objects.filter(pk__in=[e.pk for e in examples]).delete()
        human_request_version_bump()
    return deleted


def human_request_examples_set_enabled(*, examples: list[HumanRequestExample], enabled: bool) -> int:
    with transaction.atomic():
        changed = HumanRequestExample.objects.filter(pk__in=[e.pk for e in examples]).update(
            enabled=enabled, updated_at=timezone.now()
        )
        human_request_version_bump()
    return changed
