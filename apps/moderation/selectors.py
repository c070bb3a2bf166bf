"""Reads of the moderation app: the rule set workers build from, and the review queue."""

import uuid

from django.core.cache import cache
from django.db.models import QuerySet

from apps.moderation.allowlist import AllowRecord
from apps.moderation.matcher import TermRecord
from apps.moderation.models import AllowlistEntry, Category, ContentCategory, Flag, SemanticRule, Term
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
        "id", "text", "kind", "category", "severity", "action", "match_pinyin", "match_initials", "match_inserted"
    )
    return [
        TermRecord(
            id=i,
            text=t,
            kind=k,
            category=c,
            severity=s,
            action=a,
            match_pinyin=p,
            match_initials=initials,
            match_inserted=inserted,
        )
        for i, t, k, c, s, a, p, initials, inserted in rows.iterator(chunk_size=5000)
    ]


def allowlist_records() -> list[AllowRecord]:
    rows = AllowlistEntry.objects.filter(enabled=True).values_list("id", "phrase", "category")
    return [AllowRecord(id=i, phrase=p, category=c) for i, p, c in rows.iterator(chunk_size=5000)]


def category_labels() -> dict[str, str]:
    """Key -> name for every category: the built-ins (translated unless renamed), then the admins'."""
    labels = {key: str(label) for key, label in Category.choices}
    for row in ContentCategory.objects.all():
        labels[row.key] = row.label
    return labels


def category_choices() -> list[tuple[str, str]]:
    """(key, name) for a form's select, by name."""
    return sorted(category_labels().items(), key=lambda item: item[1])


def category_usage(*, keys: list[str]) -> dict[str, int]:
    """How many terms, semantic rules and allowlist entries hold each key (only keys in use)."""
    usage: dict[str, int] = {}
    for model in (Term, SemanticRule, AllowlistEntry):
        for key in model.objects.filter(category__in=keys).values_list("category", flat=True):
            usage[key] = usage.get(key, 0) + 1
    return usage


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
