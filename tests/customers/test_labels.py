"""Labels: admin-managed colours, on customers and conversations (one or many), each change audited."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, Customer
from apps.customers import selectors
from apps.customers.models import ConversationLabel, CustomerNote, Label
from apps.customers.services import (
    conversations_label,
    conversations_unlabel,
    customer_label_add,
    customer_label_remove,
    customer_note_add,
    customers_merge,
    person_for,
)
from tests.factories import ConversationFactory, LabelFactory


@pytest.mark.parametrize("colour", ["red", "#fff", "#12345g", "#1234567", "#abc123;x"])
def test_a_label_colour_must_be_rrggbb(db: None, colour: str) -> None:
    with pytest.raises(ValidationError):
        Label(name="坏颜色", colour=colour).full_clean()


def test_the_database_refuses_a_colour_that_skipped_the_form(db: None) -> None:
    Label(name="好颜色", colour="#00AAff").full_clean()
    with pytest.raises(IntegrityError):
        Label.objects.create(name="坏颜色", colour="red;x:y")


def test_a_customer_label_is_added_once_removed_once_and_audited(
    agent: User, oa_customer: Customer, vip: Label
) -> None:
    person = person_for(customer_id=oa_customer.pk)

    assert customer_label_add(actor=agent, person_id=person.pk, label_id=vip.pk) is True
    assert customer_label_add(actor=agent, person_id=person.pk, label_id=vip.pk) is False
    assert [row.name for row in selectors.person_labels(person.pk)] == ["VIP"]
    assert customer_label_remove(actor=agent, person_id=person.pk, label_id=vip.pk) is True
    assert customer_label_remove(actor=agent, person_id=person.pk, label_id=vip.pk) is False

    events = list(AuditLog.objects.order_by("id").values_list("event", "actor_id", "details__label"))
    assert events == [("customer.label_added", agent.pk, "VIP"), ("customer.label_removed", agent.pk, "VIP")]


def test_a_merged_profile_takes_no_labels_or_notes(
    agent: User, oa_customer: Customer, kf_customer: Customer, vip: Label
) -> None:
    keep, other = person_for(customer_id=oa_customer.pk), person_for(customer_id=kf_customer.pk)
    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)

    with pytest.raises(ValidationError, match="已合并到另一档案"):
        customer_label_add(actor=agent, person_id=other.pk, label_id=vip.pk)
    with pytest.raises(ValidationError, match="已合并到另一档案"):
        customer_note_add(actor=agent, person_id=other.pk, body="x")


def test_bulk_labelling_labels_each_conversation_once_with_one_audit_row_each(agent: User, vip: Label) -> None:
    conversations = ConversationFactory.create_batch(3)
    ids = [c.pk for c in conversations]
    conversations_label(actor=agent, conversation_ids=ids[:1], label_id=vip.pk)

    added = conversations_label(actor=agent, conversation_ids=ids, label_id=vip.pk)

    assert added == ids[1:]
    assert ConversationLabel.objects.filter(label=vip).count() == 3
    rows = AuditLog.objects.filter(event="conversation.label_added").order_by("id")
    assert [row.conversation_id_ref for row in rows] == ids
    assert all(row.actor_id == agent.pk and row.details == {"label": "VIP"} for row in rows)

    removed = conversations_unlabel(actor=agent, conversation_ids=ids[:2], label_id=vip.pk)

    assert removed == ids[:2]
    assert list(ConversationLabel.objects.values_list("conversation_id", flat=True)) == ids[2:]
    assert AuditLog.objects.filter(event="conversation.label_removed").count() == 2


@pytest.mark.parametrize("case", ["unknown conversation", "unknown label", "none", "too many"])
def test_bulk_labelling_refuses_bad_input_and_writes_nothing(case: str, agent: User, vip: Label) -> None:
    conversation = ConversationFactory.create()
    ids, label_id = {
        "unknown conversation": ([conversation.pk, 999_999], vip.pk),
        "unknown label": ([conversation.pk], 999_999),
        "none": ([], vip.pk),
        "too many": (list(range(1, 502)), vip.pk),
    }[case]

    with pytest.raises(ValidationError):
        conversations_label(actor=agent, conversation_ids=ids, label_id=label_id)

    assert not ConversationLabel.objects.exists()
    assert not AuditLog.objects.exists()


def test_the_inbox_reads_labels_of_a_whole_page_in_one_query(
    agent: User, vip: Label, django_assert_num_queries: Any
) -> None:
    other = LabelFactory.create(name="售后", colour="#1e88e5")
    conversations: list[Conversation] = ConversationFactory.create_batch(20)
    ids = [c.pk for c in conversations]
    conversations_label(actor=agent, conversation_ids=ids[:10], label_id=vip.pk)
    conversations_label(actor=agent, conversation_ids=ids[5:15], label_id=other.pk)

    with django_assert_num_queries(1):
        found = selectors.conversation_labels(ids)

    assert [row.name for row in found[ids[7]]] == ["VIP", "售后"]
    assert found[ids[19]] == []
    assert found[ids[0]][0].colour == "#e53935"


def test_customer_notes_are_encrypted_at_rest(agent: User, oa_customer: Customer) -> None:
    person = person_for(customer_id=oa_customer.pk)
    note = customer_note_add(actor=agent, person_id=person.pk, body="手机号 13800138000，喜欢晚上联系")

    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM customers_customernote WHERE id = %s", [note.pk])
        (raw,) = cursor.fetchone()

    assert "13800138000" not in raw
    assert "联系" not in raw
    assert CustomerNote.objects.get(pk=note.pk).body == "手机号 13800138000，喜欢晚上联系"
    audit = AuditLog.objects.get(event="customer.note_added")
    assert "13800138000" not in str(audit.details)
