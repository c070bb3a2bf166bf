"""Audit event names come from one enumeration: audit_record refuses any other, and every name
the code writes (literal, per conversation-event kind, per flag decision, per audited admin) is in it."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.moderation.models import Flag

NAMES = set(AuditEvent.values)


def test_every_event_has_a_value_and_a_label_of_its_own() -> None:
    # An Enum member with a value already taken silently becomes an alias of the first one.
    assert len(AuditEvent.__members__) == len(AuditEvent) == len(NAMES)
    labels = [str(label) for label in AuditEvent.labels]
    assert len(set(labels)) == len(labels)
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", name) for name in NAMES)


@pytest.mark.django_db
def test_an_unknown_event_name_is_refused_and_nothing_is_written() -> None:
    with pytest.raises(ValueError, match=re.escape("'bot.answerd' is not an audit event")):
        audit_record(kind=AuditLog.Kind.EXCHANGE, event="bot.answerd")
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_a_member_and_its_plain_name_are_stored_alike() -> None:
    by_member = audit_record(kind=AuditLog.Kind.STAFF, event=AuditEvent.STAFF_LOGIN)
    by_name = audit_record(kind=AuditLog.Kind.STAFF, event="staff.login")

    assert [row.event for row in AuditLog.objects.order_by("id")] == ["staff.login", "staff.login"]
    assert type(by_member.event) is str
    assert type(by_name.event) is str


def test_every_conversation_event_kind_and_flag_decision_has_an_event() -> None:
    (conversation_event,) = [model for model in apps.get_models() if model.__name__ == "ConversationEvent"]
    kind = conversation_event._meta.get_field("kind")
    assert isinstance(kind, models.Field)
    assert {f"conversation.{value}" for value, _ in kind.flatchoices} <= NAMES
    decided = set(Flag.Status.values) - {Flag.Status.PENDING}
    assert {f"flag.{status}" for status in decided} <= NAMES


def test_every_audited_admin_has_its_three_events() -> None:
    registry = admin.site._registry
    audited = [model for model, model_admin in registry.items() if isinstance(model_admin, AuditedAdminMixin)]
    assert audited
    for model in audited:
        assert {f"{model._meta.label_lower}.{action}" for action in ("add", "change", "delete")} <= NAMES


def test_an_admin_that_would_audit_an_unlisted_model_does_not_start() -> None:
    class UnlistedAdmin(AuditedAdminMixin, admin.ModelAdmin[AuditLog]):
        pass

    with pytest.raises(ImproperlyConfigured, match=re.escape("'audit.auditlog.add' is not an audit event")):
        UnlistedAdmin(AuditLog, admin.AdminSite(name="unlisted"))


def test_every_event_name_written_as_a_literal_in_the_code_is_listed() -> None:
    literal = re.compile(r"""\bevent=["']([a-z_]+\.[a-z_.]+)["']""")
    found = {
        name
        for top in ("apps", "workers", "bench")
        for path in Path(settings.BASE_DIR, top).rglob("*.py")
        for name in literal.findall(path.read_text(encoding="utf-8"))
    }
    assert literal.findall('exchange_audit(event="bot.answer", ...)') == ["bot.answer"]
    assert found - NAMES == set()
