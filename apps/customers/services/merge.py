"""Merging two customer profiles (one human seen through two channels) and undoing it exactly.

A merge moves the merged Person's identities, labels and notes to the kept one and records
their prior state in a PersonMerge; the merged Person stays, pointing at the kept one
(``merged_into``). Undo puts back what is still where the merge left it: a label an agent removed
since stays removed, a note written since stays on the kept profile. Each identity remembers the
merge that last moved it, so undoing "this identity's merge" always undoes the newest one first.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.customers.models import CustomerLabel, CustomerNote, Identity, Label, Person, PersonMerge

_LINKED_BY = {PersonMerge.Reason.AGENT: Identity.LinkedBy.AGENT, PersonMerge.Reason.UNIONID: Identity.LinkedBy.UNIONID}


def persons_lock(person_ids: list[int]) -> dict[int, Person]:
    """Lock persons in id order (the one order every writer uses); ValidationError for an unknown id."""
    persons = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=person_ids).order_by("pk")}
    missing = sorted(set(person_ids) - set(persons))
    if missing:
        raise ValidationError(_("Unknown customer profile: %(ids)s") % {"ids": ", ".join(map(str, missing))})
    return persons


def customers_merge(*, actor: AbstractBaseUser, keep_person_id: int, merge_person_id: int) -> PersonMerge:
    """Merge one profile into another (an agent decided they are the same human); audited."""
    if keep_person_id == merge_person_id:
        raise ValidationError(_("A customer profile cannot be merged with itself."))
    with transaction.atomic():
        persons = persons_lock([keep_person_id, merge_person_id])
        keep, merge = persons[keep_person_id], persons[merge_person_id]
        if keep.merged_into_id is not None or merge.merged_into_id is not None:
            raise ValidationError(_("This customer profile was already merged into another one."))
        if keep.unionid and merge.unionid:
            raise ValidationError(_("WeChat says these are two different people (each has its own unionid)."))
        record = merge_persons(keep=keep, merge=merge, actor_id=actor.pk, reason=PersonMerge.Reason.AGENT)
        _audit(AuditEvent.CUSTOMER_MERGED, record=record, actor_id=actor.pk)
    return record


def customers_unmerge(*, actor: AbstractBaseUser, identity_id: int) -> Person:
    """Undo the merge that last moved this identity (all it moved); returns the restored Person."""
    with transaction.atomic():
        merge_id = Identity.objects.filter(pk=identity_id).values_list("merge_id", flat=True).first()
        if merge_id is None:
            if not Identity.objects.filter(pk=identity_id).exists():
                raise ValidationError(_("Unknown channel identity."))
            raise ValidationError(_("This channel identity was not merged."))
        record = PersonMerge.objects.select_for_update().get(pk=merge_id)
        if record.reason != PersonMerge.Reason.AGENT:
            raise ValidationError(_("Linked by WeChat's unionid: WeChat says this is the same person."))
        persons = persons_lock([record.kept_id, record.merged_id])
        kept, merged = persons[record.kept_id], persons[record.merged_id]
        if record.undone_at is not None or merged.merged_into_id != kept.pk:
            raise ValidationError(_("This merge was undone already."))
        _restore(record=record, kept=kept, merged=merged)
        record.undone_at = timezone.now()
        record.undone_by_id = actor.pk
        record.save(update_fields=["undone_at", "undone_by"])
        _audit(AuditEvent.CUSTOMER_UNMERGED, record=record, actor_id=actor.pk)
    return merged


def merge_persons(*, keep: Person, merge: Person, actor_id: int | None, reason: str) -> PersonMerge:
    """Move ``merge``'s rows to ``keep``; both locked by the caller, neither merged already."""
    now = timezone.now()
    identities = list(Identity.objects.filter(person=merge).order_by("pk"))
    labels = list(CustomerLabel.objects.filter(person=merge).order_by("pk"))
    kept_labels = set(CustomerLabel.objects.filter(person=keep).values_list("label_id", flat=True))
    moved_labels = [row.pk for row in labels if row.label_id not in kept_labels]
    # The kept profile has these already: the rows go, their content stays in the record.
    dropped = [row for row in labels if row.label_id in kept_labels]
    notes = list(CustomerNote.objects.filter(person=merge).values_list("pk", flat=True))
    record = PersonMerge.objects.create(
        kept=keep,
        merged=merge,
        reason=reason,
        actor_id=actor_id,
        moved={
            "identities": [_identity_state(identity) for identity in identities],
            "labels": {
                "moved": moved_labels,
                "dropped": [
                    {"label": row.label_id, "added_by": row.added_by_id, "added_at": row.added_at.isoformat()}
                    for row in dropped
                ],
            },
            "notes": notes,
            "unionid": merge.unionid,
        },
    )
    Identity.objects.filter(person=merge).update(
        person=keep,
        previous_person=merge,
        linked_by=_LINKED_BY[PersonMerge.Reason(reason)],
        linked_at=now,
        linked_by_user_id=actor_id,
        merge=record,
    )
    CustomerLabel.objects.filter(pk__in=moved_labels).update(person=keep)
    CustomerLabel.objects.filter(pk__in=[row.pk for row in dropped]).delete()
    CustomerNote.objects.filter(pk__in=notes).update(person=keep)
    if merge.unionid:  # unique: off the merged profile before it goes on the kept one
        unionid, merge.unionid = merge.unionid, None
        merge.merged_into, merge.merged_at = keep, now
        merge.save(update_fields=["unionid", "merged_into", "merged_at"])
        keep.unionid = unionid
        keep.save(update_fields=["unionid"])
    else:
        merge.merged_into, merge.merged_at = keep, now
        merge.save(update_fields=["merged_into", "merged_at"])
    return record


def _identity_state(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.pk,
        "linked_by": identity.linked_by,
        "linked_at": identity.linked_at.isoformat(),
        "linked_by_user": identity.linked_by_user_id,
        "previous_person": identity.previous_person_id,
        "merge": identity.merge_id,
    }


def _at(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed


def _restore(*, record: PersonMerge, kept: Person, merged: Person) -> None:
    moved = record.moved
    for state in moved["identities"]:
        # Only identities this merge still holds: a later merge would have moved them (and be undone first).
        Identity.objects.filter(pk=state["id"], merge=record).update(
            person=merged,
            linked_by=state["linked_by"],
            linked_at=_at(state["linked_at"]),
            linked_by_user_id=state["linked_by_user"],
            previous_person_id=state["previous_person"],
            merge_id=state["merge"],
        )
    CustomerLabel.objects.filter(pk__in=moved["labels"]["moved"], person=kept).update(person=merged)
    dropped = moved["labels"]["dropped"]
    # A label an admin deleted since cannot come back.
    alive = set(Label.objects.filter(pk__in=[row["label"] for row in dropped]).values_list("pk", flat=True))
    CustomerLabel.objects.bulk_create(
        [
            CustomerLabel(
                person=merged, label_id=row["label"], added_by_id=row["added_by"], added_at=_at(row["added_at"])
            )
            for row in dropped
            if row["label"] in alive
        ],
        ignore_conflicts=True,
    )
    CustomerNote.objects.filter(pk__in=moved["notes"], person=kept).update(person=merged)
    merged.merged_into, merged.merged_at = None, None
    if moved["unionid"] and kept.unionid == moved["unionid"]:
        kept.unionid = None
        kept.save(update_fields=["unionid"])
        merged.unionid = moved["unionid"]
        merged.save(update_fields=["unionid", "merged_into", "merged_at"])
    else:
        merged.save(update_fields=["merged_into", "merged_at"])


def _audit(event: AuditEvent, *, record: PersonMerge, actor_id: int | None) -> None:
    customers = list(
        Identity.objects.filter(pk__in=[s["id"] for s in record.moved["identities"]]).values_list(
            "customer__channel", "customer__external_id"
        )
    )
    audit_record(
        kind=AuditLog.Kind.STAFF,
        event=event,
        actor_id=actor_id,
        customer_ref=f"person:{record.kept_id}",
        details={
            "merge_id": record.pk,
            "kept_person": record.kept_id,
            "merged_person": record.merged_id,
            "identities": [f"{channel}:{external_id}" for channel, external_id in customers],
            "labels": len(record.moved["labels"]["moved"]) + len(record.moved["labels"]["dropped"]),
            "notes": len(record.moved["notes"]),
        },
    )
