"""Writes of customer profiles: persons and their identities, merges, labels, notes.

Every staff write is audited in its own transaction (apps.audit). Lock order: customer ->
unionid advisory lock -> persons by id -> the audit chain. One module per concern; this package
is the public surface.
"""

from apps.customers.services.labels import (
    BULK_MAX,
    conversations_label,
    conversations_unlabel,
    customer_label_add,
    customer_label_remove,
    customer_note_add,
)
from apps.customers.services.merge import customers_merge, customers_unmerge
from apps.customers.services.persons import identity_link_unionid, person_for

__all__ = [
    "BULK_MAX",
    "conversations_label",
    "conversations_unlabel",
    "customer_label_add",
    "customer_label_remove",
    "customer_note_add",
    "customers_merge",
    "customers_unmerge",
    "identity_link_unionid",
    "person_for",
]
