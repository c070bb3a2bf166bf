"""One human on two channels: merged by an agent (audited, undone exactly) or linked by unionid."""

import threading

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connections

from apps.audit.models import AuditLog
from apps.conversations.models import Customer
from apps.customers.models import CustomerLabel, CustomerNote, Identity, Label, Person, PersonMerge
from apps.customers.services import (
    customer_label_add,
    customer_note_add,
    customers_merge,
    customers_unmerge,
    identity_link_unionid,
    person_for,
)
from tests.factories import CustomerFactory, LabelFactory


def _state(*persons: Person) -> dict[str, object]:
    """Everything a merge touches, for comparing before and after an undo."""
    ids = [p.pk for p in persons]
    return {
        "persons": list(Person.objects.filter(pk__in=ids).order_by("pk").values()),
        "identities": list(Identity.objects.filter(person__in=ids).order_by("pk").values()),
        "labels": sorted(
            CustomerLabel.objects.filter(person__in=ids).values_list("person_id", "label_id", "added_by_id", "added_at")
        ),
        "notes": sorted(CustomerNote.objects.filter(person__in=ids).values_list("pk", "person_id")),
    }


def test_person_for_makes_one_person_per_customer_once(oa_customer: Customer) -> None:
    first = person_for(customer_id=oa_customer.pk)

    assert person_for(customer_id=oa_customer.pk) == first
    identity = Identity.objects.get(customer=oa_customer)
    assert identity.person == first
    assert identity.linked_by == Identity.LinkedBy.FIRST_CONTACT


def test_person_for_an_unknown_customer_raises(db: None) -> None:
    with pytest.raises(Customer.DoesNotExist):
        person_for(customer_id=999_999)


def test_an_agent_merges_two_channels_into_one_person_with_labels_and_notes(
    agent: User, oa_customer: Customer, kf_customer: Customer, vip: Label
) -> None:
    keep, other = person_for(customer_id=oa_customer.pk), person_for(customer_id=kf_customer.pk)
    customer_label_add(actor=agent, person_id=other.pk, label_id=vip.pk)
    note = customer_note_add(actor=agent, person_id=other.pk, body="喜欢电话联系")

    record = customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)

    kf_identity = Identity.objects.get(customer=kf_customer)
    assert kf_identity.person_id == keep.pk
    assert kf_identity.previous_person_id == other.pk
    assert kf_identity.linked_by == Identity.LinkedBy.AGENT
    assert kf_identity.linked_by_user == agent
    assert kf_identity.merge == record
    assert list(CustomerLabel.objects.filter(person=keep).values_list("label", flat=True)) == [vip.pk]
    assert CustomerNote.objects.get(pk=note.pk).person_id == keep.pk
    other.refresh_from_db()
    assert other.merged_into_id == keep.pk  # kept, never deleted: the undo needs it
    row = AuditLog.objects.get(event="customer.merged")
    assert row.kind == AuditLog.Kind.STAFF
    assert row.actor == agent
    assert row.details["kept_person"] == keep.pk
    assert row.details["merged_person"] == other.pk
    assert row.details["identities"] == ["wecom_kf:wm-kf-1"]


def test_undoing_a_merge_restores_every_row_exactly(
    agent: User, teammate: User, oa_customer: Customer, kf_customer: Customer, vip: Label
) -> None:
    keep, other = person_for(customer_id=oa_customer.pk), person_for(customer_id=kf_customer.pk)
    both = LabelFactory.create(name="投诉")
    customer_label_add(actor=agent, person_id=keep.pk, label_id=both.pk)
    customer_label_add(actor=teammate, person_id=other.pk, label_id=both.pk)  # the kept one has it too
    customer_label_add(actor=agent, person_id=other.pk, label_id=vip.pk)
    customer_note_add(actor=agent, person_id=other.pk, body="老客户")
    before = _state(keep, other)

    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)
    assert CustomerLabel.objects.filter(person=keep).count() == 2  # the duplicate label folded
    restored = customers_unmerge(actor=teammate, identity_id=Identity.objects.get(customer=kf_customer).pk)

    assert restored == other
    assert _state(keep, other) == before
    undo = AuditLog.objects.get(event="customer.unmerged")
    assert undo.actor == teammate
    assert PersonMerge.objects.get().undone_by == teammate


def test_undo_leaves_what_happened_since_the_merge(
    agent: User, oa_customer: Customer, kf_customer: Customer, vip: Label
) -> None:
    keep, other = person_for(customer_id=oa_customer.pk), person_for(customer_id=kf_customer.pk)
    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)
    later = customer_note_add(actor=agent, person_id=keep.pk, body="合并后写的")

    customers_unmerge(actor=agent, identity_id=Identity.objects.get(customer=kf_customer).pk)

    assert CustomerNote.objects.get(pk=later.pk).person_id == keep.pk
    assert Identity.objects.get(customer=oa_customer).person_id == keep.pk


def test_undo_takes_the_newest_merge_first(agent: User, oa_customer: Customer, kf_customer: Customer) -> None:
    bot = CustomerFactory.create(channel="wechaty", external_id="wxid-1", display_name="明")
    a, b, c = (person_for(customer_id=c.pk) for c in (oa_customer, kf_customer, bot))
    customers_merge(actor=agent, keep_person_id=b.pk, merge_person_id=c.pk)  # wechaty into kf
    customers_merge(actor=agent, keep_person_id=a.pk, merge_person_id=b.pk)  # kf (with wechaty) into OA
    assert set(Identity.objects.values_list("person_id", flat=True)) == {a.pk}

    customers_unmerge(actor=agent, identity_id=Identity.objects.get(customer=bot).pk)

    # The second merge is undone: kf and wechaty are back together, as after the first.
    assert Identity.objects.get(customer=bot).person_id == b.pk
    assert Identity.objects.get(customer=kf_customer).person_id == b.pk
    assert Identity.objects.get(customer=oa_customer).person_id == a.pk
    customers_unmerge(actor=agent, identity_id=Identity.objects.get(customer=bot).pk)
    assert Identity.objects.get(customer=bot).person_id == c.pk


@pytest.mark.parametrize("case", ["itself", "unknown", "already merged", "two unionids"])
def test_a_merge_that_cannot_be_refuses_clearly(
    case: str, agent: User, oa_customer: Customer, kf_customer: Customer
) -> None:
    keep, other = person_for(customer_id=oa_customer.pk), person_for(customer_id=kf_customer.pk)
    ids = {"itself": (keep.pk, keep.pk), "unknown": (keep.pk, 999_999)}.get(case, (keep.pk, other.pk))
    if case == "already merged":
        customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)
    if case == "two unionids":
        Person.objects.filter(pk=keep.pk).update(unionid="u-1")
        Person.objects.filter(pk=other.pk).update(unionid="u-2")
    merges = PersonMerge.objects.count()

    with pytest.raises(ValidationError):
        customers_merge(actor=agent, keep_person_id=ids[0], merge_person_id=ids[1])

    assert PersonMerge.objects.count() == merges


def test_unmerging_an_identity_that_was_not_merged_refuses(agent: User, oa_customer: Customer) -> None:
    person_for(customer_id=oa_customer.pk)

    with pytest.raises(ValidationError, match="未被合并过"):
        customers_unmerge(actor=agent, identity_id=Identity.objects.get(customer=oa_customer).pk)
    with pytest.raises(ValidationError, match="未知的渠道身份"):
        customers_unmerge(actor=agent, identity_id=999_999)


def test_a_unionid_goes_on_the_first_persons_profile(oa_customer: Customer) -> None:
    person = identity_link_unionid(customer_id=oa_customer.pk, unionid="union-abc")

    assert person.unionid == "union-abc"
    assert AuditLog.objects.get(event="customer.unionid_linked").kind == AuditLog.Kind.SYSTEM


def test_a_second_channel_with_the_same_unionid_joins_that_person(
    agent: User, oa_customer: Customer, kf_customer: Customer, vip: Label
) -> None:
    oa_person = identity_link_unionid(customer_id=oa_customer.pk, unionid="union-abc")
    kf_person = person_for(customer_id=kf_customer.pk)
    customer_label_add(actor=agent, person_id=kf_person.pk, label_id=vip.pk)

    joined = identity_link_unionid(customer_id=kf_customer.pk, unionid="union-abc")

    assert joined == oa_person
    identity = Identity.objects.get(customer=kf_customer)
    assert (identity.person_id, identity.linked_by) == (oa_person.pk, Identity.LinkedBy.UNIONID)
    assert CustomerLabel.objects.get(label=vip).person_id == oa_person.pk
    # Reported again (every user-info fetch): nothing changes.
    assert identity_link_unionid(customer_id=kf_customer.pk, unionid="union-abc") == oa_person
    assert PersonMerge.objects.count() == 1
    # WeChat vouches for it: an agent cannot undo it.
    with pytest.raises(ValidationError, match="unionid"):
        customers_unmerge(actor=agent, identity_id=identity.pk)


def test_a_merged_unionid_moves_to_the_kept_person_and_back(
    agent: User, oa_customer: Customer, kf_customer: Customer
) -> None:
    keep = person_for(customer_id=oa_customer.pk)
    other = identity_link_unionid(customer_id=kf_customer.pk, unionid="union-xyz")

    customers_merge(actor=agent, keep_person_id=keep.pk, merge_person_id=other.pk)
    assert Person.objects.get(pk=keep.pk).unionid == "union-xyz"
    customers_unmerge(actor=agent, identity_id=Identity.objects.get(customer=kf_customer).pk)

    assert Person.objects.get(pk=keep.pk).unionid is None
    assert Person.objects.get(pk=other.pk).unionid == "union-xyz"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_looks_make_one_person() -> None:
    customer = CustomerFactory.create(channel="wechaty", external_id="wxid-race")
    barrier = threading.Barrier(4)
    found: list[int] = []

    def look() -> None:
        try:
            barrier.wait()
            found.append(person_for(customer_id=customer.pk).pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=look) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(found) == 4
    assert len(set(found)) == 1
    assert Person.objects.count() == 1
