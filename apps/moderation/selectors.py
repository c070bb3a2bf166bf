"""Reads of the moderation app: the rule set workers build from, and the review queue."""

import uuid

from django.core.cache import cache
from django.db.models import QuerySet

from apps.moderation.matcher import TermRecord
from apps.moderation.models import Flag, SemanticRule, Term
from apps.moderation.semantic import RuleRecord

RULES_VERSION_KEY = "moderation:rules:version"


def rules_version() -> str:
    """The version every worker compares against; created if Redis lost it (each worker then rebuilds once)."""
    version = cache.get(RULES_VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(RULES_VERSION_KEY, version, timeout=None):
            version = cache.get(RULES_VERSION_KEY) or version
    return str(version)


def term_records() -> list[TermRecord]:
    rows = Term.objects.filter(enabled=True).values_list(
        "id", "text", "kind", "category", "severity", "action", "match_pinyin"
    )
    return [
        TermRecord(id=i, text=t, kind=k, category=c, severity=s, action=a, match_pinyin=p)
        for i, t, k, c, s, a, p in rows.iterator(chunk_size=5000)
    ]


def rule_records() -> list[RuleRecord]:
    return [
        RuleRecord(
            id=rule.pk,
            category=rule.category,
            examples=tuple(rule.example_list()),
            threshold=rule.threshold,
            action=rule.action,
        )
        for rule in SemanticRule.objects.filter(enabled=True).order_by("id")
    ]


def flag_list(*, status: str = Flag.Status.PENDING, limit: int = 100) -> QuerySet[Flag]:
    """The review queue, newest first, with what a reviewer needs on one row."""
    return (
        Flag.objects.filter(status=status)
        .select_related("message__conversation__customer", "reviewer")
        .order_by("-created_at")[:limit]
    )
