"""The Person of a channel identity: created on first look, linked by WeChat's unionid.

Lock order: customer (the spine's first lock) -> the unionid's advisory lock -> persons by id
-> the audit chain (taken last by audit_record).
"""

import logging
import zlib

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.conversations.models import Customer
from apps.customers.models import Identity, Person, PersonMerge
from apps.customers.services.merge import merge_persons, persons_lock

logger = logging.getLogger(__name__)
_UNIONID_LOCK = 0x63757374  # "cust": with the unionid's CRC, one advisory lock per unionid


def person_for(*, customer_id: int) -> Person:
    """The Person of a customer, created with its Identity on first call (Customer.DoesNotExist if none).

    The spine has no "conversation started" signal, so persons are made lazily, here; the
    customer's row lock makes two concurrent first calls agree on one Person.
    """
    identity = Identity.objects.select_related("person").filter(customer_id=customer_id).first()
    if identity is not None:
        return identity.person
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        identity = Identity.objects.select_related("person").filter(customer_id=customer_id).first()
        if identity is not None:
            return identity.person
        person = Person.objects.create()
        Identity.objects.create(
            customer=customer, person=person, linked_by=Identity.LinkedBy.FIRST_CONTACT, linked_at=timezone.now()
        )
    return person


def identity_link_unionid(*, customer_id: int, unionid: str) -> Person:
    """Attach a customer to the Person holding ``unionid``, or give its own Person that unionid.

    For the channels: call it when WeChat reports a user's unionid (OA user info, kf customer
    batchget). A Person of this customer that holds other identities is merged whole into the
    unionid's holder (reason "unionid", no actor), so labels and notes follow. A Person that
    already holds a different unionid is left alone and logged: WeChat says they differ.
    """
    unionid = unionid.strip()
    if not unionid or len(unionid) > 64:
        raise ValidationError(_("A WeChat unionid is 1 to 64 characters."))
    person_for(customer_id=customer_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_UNIONID_LOCK, _signed(zlib.crc32(unionid.encode()))]
            )
        current_id = Identity.objects.values_list("person_id", flat=True).get(customer_id=customer_id)
        holder_id = Person.objects.filter(unionid=unionid).values_list("pk", flat=True).first()
        if holder_id == current_id:
            return Person.objects.get(pk=current_id)
        ids = [current_id] if holder_id is None else [holder_id, current_id]
        persons = persons_lock(ids)
        current = persons[current_id]
        if current.unionid:
            logger.warning(
                "customers: customer %s has unionid %s, WeChat now reports another one", customer_id, current.unionid
            )
            return current
        if holder_id is None:
            current.unionid = unionid
            current.save(update_fields=["unionid"])
            _audit_link(customer_id=customer_id, person=current, merge=None)
            return current
        holder = persons[holder_id]
        merge = merge_persons(keep=holder, merge=current, actor_id=None, reason=PersonMerge.Reason.UNIONID)
        _audit_link(customer_id=customer_id, person=holder, merge=merge)
        return holder


def _signed(value: int) -> int:
    # pg_advisory_xact_lock(int, int) takes signed 32-bit keys.
    return value - (1 << 32) if value >= 1 << 31 else value


def _audit_link(*, customer_id: int, person: Person, merge: PersonMerge | None) -> None:
    customer = Customer.objects.only("channel", "external_id").get(pk=customer_id)
    audit_record(
        kind=AuditLog.Kind.SYSTEM,
        event=AuditEvent.CUSTOMER_UNIONID_LINKED,
        customer_ref=f"{customer.channel}:{customer.external_id}",
        channel=customer.channel,
        details={"person_id": person.pk, "merge_id": merge.pk if merge is not None else None},
    )
