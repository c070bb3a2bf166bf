"""Labels on customers and conversations, notes on customers: staff writes, each audited.

Labels themselves are configuration, managed in the admin (LabelAdmin, audited there).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.conversations.models import Conversation
from apps.customers.models import ConversationLabel, CustomerLabel, CustomerNote, Label, Person

BULK_MAX = 500  # conversations per bulk action: one request, one transaction
NOTE_MAX_CHARS = 4000


def _label(label_id: int) -> Label:
    label = Label.objects.filter(pk=label_id).first()
    if label is None:
        raise ValidationError(_("Unknown label."))
    return label


def _live_person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise ValidationError(_("Unknown customer profile: %(ids)s") % {"ids": person_id})
    if person.merged_into_id is not None:
        raise ValidationError(_("This customer profile was merged into another one."))
    return person


def _audit_person(event: AuditEvent, *, actor: AbstractBaseUser, person: Person, details: dict[str, object]) -> None:
    audit_record(
        kind=AuditLog.Kind.STAFF,
        event=event,
        actor_id=actor.pk,
        customer_ref=f"person:{person.pk}",
        details={"person_id": person.pk, **details},
    )


def customer_label_add(*, actor: AbstractBaseUser, person_id: int, label_id: int) -> bool:
    """Label a customer; False when they had the label already (nothing written)."""
    label = _label(label_id)
    with transaction.atomic():
        person = _live_person(person_id)
        _, created = CustomerLabel.objects.get_or_create(
            person=person, label=label, defaults={"added_by_id": actor.pk, "added_at": timezone.now()}
        )
        if created:
            _audit_person(AuditEvent.CUSTOMER_LABEL_ADDED, actor=actor, person=person, details={"label": label.name})
    return created


def customer_label_remove(*, actor: AbstractBaseUser, person_id: int, label_id: int) -> bool:
    """Take a label off a customer; False when they did not have it."""
    label = _label(label_id)
    with transaction.atomic():
        person = _live_person(person_id)
        deleted, _rows = CustomerLabel.objects.filter(person=person, label=label).delete()
        if deleted:
            _audit_person(AuditEvent.CUSTOMER_LABEL_REMOVED, actor=actor, person=person, details={"label": label.name})
    return bool(deleted)


def customer_note_add(*, actor: AbstractBaseUser, person_id: int, body: str) -> CustomerNote:
    body = body.strip()
    if not body:
        raise ValidationError(_("The note is empty."))
    if len(body) > NOTE_MAX_CHARS:
        raise ValidationError(_("A note has at most %(max)d characters.") % {"max": NOTE_MAX_CHARS})
    with transaction.atomic():
        person = _live_person(person_id)
        note = CustomerNote.objects.create(person=person, author_id=actor.pk, body=body)
        # The note's text stays out of the log: it is encrypted at rest, the log row is not.
        _audit_person(AuditEvent.CUSTOMER_NOTE_ADDED, actor=actor, person=person, details={"note_id": note.pk})
    return note


def _conversations(conversation_ids: list[int]) -> dict[int, tuple[str, str]]:
    ids = sorted(set(conversation_ids))
    if not ids:
        raise ValidationError(_("Choose at least one conversation."))
    if len(ids) > BULK_MAX:
        raise ValidationError(_("At most %(max)d conversations at once.") % {"max": BULK_MAX})
    found = {
        pk: (channel, external_id)
        for pk, channel, external_id in Conversation.objects.filter(pk__in=ids).values_list(
            "pk", "channel", "customer__external_id"
        )
    }
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError(_("Unknown conversation: %(ids)s") % {"ids": ", ".join(map(str, missing))})
    return found


def _audit_conversation(
    event: AuditEvent, *, actor: AbstractBaseUser, pk: int, ref: tuple[str, str], label: Label
) -> None:
    channel, external_id = ref
    audit_record(
        kind=AuditLog.Kind.STAFF,
        event=event,
        actor_id=actor.pk,
        customer_ref=f"{channel}:{external_id}",
        channel=channel,
        conversation_id=pk,
        details={"label": label.name},
    )


def conversations_label(*, actor: AbstractBaseUser, conversation_ids: list[int], label_id: int) -> list[int]:
    """Put a label on conversations (the inbox's bulk action); returns the ids newly labelled."""
    label = _label(label_id)
    with transaction.atomic():
        found = _conversations(conversation_ids)
        had = set(
            ConversationLabel.objects.filter(label=label, conversation_id__in=found).values_list(
                "conversation_id", flat=True
            )
        )
        now = timezone.now()
        new = [pk for pk in sorted(found) if pk not in had]
        # A concurrent request may label the same conversation: the constraint keeps one row.
        ConversationLabel.objects.bulk_create(
            [ConversationLabel(conversation_id=pk, label=label, added_by_id=actor.pk, added_at=now) for pk in new],
            ignore_conflicts=True,
        )
        for pk in new:
            _audit_conversation(AuditEvent.CONVERSATION_LABEL_ADDED, actor=actor, pk=pk, ref=found[pk], label=label)
    return new


def conversations_unlabel(*, actor: AbstractBaseUser, conversation_ids: list[int], label_id: int) -> list[int]:
    """Take a label off conversations; returns the ids that had it."""
    label = _label(label_id)
    with transaction.atomic():
        found = _conversations(conversation_ids)
        rows = ConversationLabel.objects.select_for_update().filter(label=label, conversation_id__in=found)
        removed = sorted(rows.values_list("conversation_id", flat=True))
        ConversationLabel.objects.filter(label=label, conversation_id__in=removed).delete()
        for pk in removed:
            _audit_conversation(AuditEvent.CONVERSATION_LABEL_REMOVED, actor=actor, pk=pk, ref=found[pk], label=label)
    return removed
