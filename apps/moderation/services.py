"""Writes of the moderation app: rule edits (which every worker picks up) and review decisions.

A rule edit bumps a version key in Redis after commit; each worker compares it at most every
DESK_MODERATION_RELOAD_SECONDS and rebuilds its matcher lazily (apps.moderation.moderator).
"""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.moderation.models import AllowlistEntry, ContentCategory, Flag, SemanticRule, Term, TermAction
from apps.moderation.selectors import RULES_VERSION_KEY, category_usage


def rules_version_bump() -> None:
    """Tell every worker the rules changed, once the change is visible to them."""
    transaction.on_commit(lambda: cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, timeout=None))


def term_save(*, term: Term) -> Term:
    term.full_clean()
    with transaction.atomic():
        term.save()
        rules_version_bump()
    return term


def terms_delete(*, terms: list[Term]) -> int:
    with transaction.atomic():
        deleted, _count = Term.objects.filter(pk__in=[t.pk for t in terms]).delete()
        rules_version_bump()
    return deleted


def terms_set_enabled(*, terms: list[Term], enabled: bool) -> int:
    with transaction.atomic():
        changed = Term.objects.filter(pk__in=[t.pk for t in terms]).update(enabled=enabled, updated_at=timezone.now())
        rules_version_bump()
    return changed


def semantic_rule_save(*, rule: SemanticRule) -> SemanticRule:
    rule.full_clean()
    with transaction.atomic():
        rule.save()
        rules_version_bump()
    return rule


def semantic_rules_delete(*, rules: list[SemanticRule]) -> int:
    with transaction.atomic():
        deleted, _count = SemanticRule.objects.filter(pk__in=[r.pk for r in rules]).delete()
        rules_version_bump()
    return deleted


def allowlist_entry_save(*, entry: AllowlistEntry) -> AllowlistEntry:
    entry.full_clean()
    with transaction.atomic():
        entry.save()
        rules_version_bump()
    return entry


def allowlist_entries_delete(*, entries: list[AllowlistEntry]) -> int:
    with transaction.atomic():
        deleted, _count = AllowlistEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()
        rules_version_bump()
    return deleted


def category_save(*, category: ContentCategory) -> ContentCategory:
    """Add a category or rename one; the key of a saved category stays what it was."""
    if category.pk is not None:
        category.key = ContentCategory.objects.values_list("key", flat=True).get(pk=category.pk)
    category.full_clean()
    category.save()
    return category  # names are not part of the rules: no version bump


def category_delete_refusal(*, categories: list[ContentCategory]) -> list[str]:
    """Why these categories cannot go (built in, or still held by terms, rules or allowlist entries)."""
    usage = category_usage(keys=[c.key for c in categories])
    reasons = [_("%(name)s is built in.") % {"name": c.label} for c in categories if c.built_in]
    reasons += [
        _("%(name)s is used by %(count)d terms, rules or allowlist entries.") % {"name": c.label, "count": usage[c.key]}
        for c in categories
        if c.key in usage
    ]
    return reasons


def categories_delete(*, categories: list[ContentCategory]) -> int:
    with transaction.atomic():
        locked = list(ContentCategory.objects.select_for_update().filter(pk__in=[c.pk for c in categories]))
        reasons = category_delete_refusal(categories=locked)
        if reasons:
            raise ValidationError(reasons)
        deleted, _count = ContentCategory.objects.filter(pk__in=[c.pk for c in locked]).delete()
    return deleted


def flag_record(*, message_id: int | None, direction: str, verdict: str, text: str, evidence: dict[str, Any]) -> Flag:
    """Store a moderation decision for review. A retry updates the pending flag; a decided one stays."""
    values = {"verdict": verdict, "text": text, "evidence": evidence}
    if message_id is None:
        return Flag.objects.create(message_id=None, direction=direction, **values)
    existing = Flag.objects.filter(message_id=message_id, direction=direction).first()
    if existing is not None:
        if existing.status == Flag.Status.PENDING:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.save(update_fields=list(values))
        return existing
    try:
        with transaction.atomic():
            return Flag.objects.create(message_id=message_id, direction=direction, **values)
    except IntegrityError:
        return Flag.objects.get(message_id=message_id, direction=direction)


def _flag_decide(*, flag: Flag, reviewer: AbstractBaseUser, status: str, event: AuditEvent) -> Flag:
    with transaction.atomic():
        locked = Flag.objects.select_for_update().get(pk=flag.pk)
        locked.status = status
        locked.reviewer_id = reviewer.pk
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "reviewer", "decided_at"])
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=event,
            actor_id=reviewer.pk,
            message_id=locked.message_id,
            details={"flag_id": locked.pk, "verdict": locked.verdict, "direction": locked.direction},
        )
    return locked


def flag_confirm(*, flag: Flag, reviewer: AbstractBaseUser) -> Flag:
    """The reviewer agrees the content was unsafe."""
    return _flag_decide(flag=flag, reviewer=reviewer, status=Flag.Status.CONFIRMED, event=AuditEvent.FLAG_CONFIRMED)


def flag_dismiss(*, flag: Flag, reviewer: AbstractBaseUser) -> Flag:
    """A false alarm: nothing to do."""
    return _flag_decide(flag=flag, reviewer=reviewer, status=Flag.Status.DISMISSED, event=AuditEvent.FLAG_DISMISSED)


def term_add_from_flag(
    *,
    flag: Flag,
    reviewer: AbstractBaseUser,
    text: str,
    category: str,
    action: str = TermAction.BLOCK,
    severity: int = 3,
    kind: str = Term.Kind.KEYWORD,
    match_pinyin: bool = False,
) -> Term:
    """Blacklist a phrase the reviewer picked out of a flagged text, and confirm the flag."""
    term = Term(
        text=text,
        kind=kind,
        category=category,
        action=action,
        severity=severity,
        match_pinyin=match_pinyin,
        note=f"from moderation flag #{flag.pk}",
    )
    with transaction.atomic():
        term_save(term=term)
        if flag.status == Flag.Status.PENDING:
            flag_confirm(flag=flag, reviewer=reviewer)
    return term
