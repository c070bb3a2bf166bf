"""Writing the audit log: one row per exchange or staff action, in the caller's transaction.

Rows are chained: each stores the previous row's hash and an HMAC over its own content and
that hash. An advisory lock serialises writers for the length of their transaction, so the
chain has no forks; it is taken last, after any row locks, and released at commit.
"""

import ipaddress
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.events import audit_event
from apps.audit.models import AuditLog
from apps.core.crypto import keyring

GENESIS = "0" * 64
_CHAIN_LOCK = 0x6175646974  # "audit"


def canonical(
    *,
    created_at: datetime,
    kind: str,
    event: str,
    actor_id: int | None,
    customer_ref: str,
    channel: str,
    conversation_id_ref: int | None,
    message_id_ref: int | None,
    query: str,
    response: str,
    model: str,
    endpoint: str,
    latency_ms: int | None,
    client_ip: str | None,
    details: dict[str, Any],
) -> bytes:
    """The bytes an audit hash covers: every column but the hashes, plaintext before encryption."""
    content = {
        "created_at": created_at.isoformat(),
        "kind": kind,
        "event": event,
        "actor_id": actor_id,
        "customer_ref": customer_ref,
        "channel": channel,
        "conversation_id_ref": conversation_id_ref,
        "message_id_ref": message_id_ref,
        "query": query,
        "response": response,
        "model": model,
        "endpoint": endpoint,
        "latency_ms": latency_ms,
        # Compare addresses, not spellings: Postgres prints inet in its own form.
        "client_ip": _normal_ip(client_ip),
        "details": details,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(*, key_id: str, prev_hash: str, content: bytes) -> str:
    return keyring().mac(key_id, prev_hash.encode() + b"\n" + content)


def _normal_ip(client_ip: str | None) -> str | None:
    if not client_ip:
        return None
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return None  # a malformed forwarded-for value is not evidence of anything
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


class AuditRow(TypedDict, total=False):
    """One audit row: audit_record's keyword arguments, and an item of audit_record_many."""

    kind: Required[str]
    event: Required[str]
    actor_id: int | None
    customer_ref: str
    channel: str
    conversation_id: int | None
    message_id: int | None
    query: str
    response: str
    model: str
    endpoint: str
    latency_ms: int | None
    client_ip: str | None
    details: dict[str, Any] | None


def _columns(**row: Unpack[AuditRow]) -> dict[str, Any]:
    return {
        "created_at": timezone.now(),
        "kind": row["kind"],
        "event": audit_event(row["event"]).value,
        "actor_id": row.get("actor_id"),
        "customer_ref": row.get("customer_ref", "")[:160],
        "channel": row.get("channel", ""),
        "conversation_id_ref": row.get("conversation_id"),
        "message_id_ref": row.get("message_id"),
        "query": row.get("query", ""),
        "response": row.get("response", ""),
        "model": row.get("model", "")[:200],
        "endpoint": row.get("endpoint", "")[:64],
        "latency_ms": row.get("latency_ms"),
        "client_ip": _normal_ip(row.get("client_ip")),
        "details": json.loads(json.dumps(row.get("details") or {}, default=str)),
    }


def audit_record(**row: Unpack[AuditRow]) -> AuditLog:
    """One row (AuditRow: ``kind``, ``event`` and what else is known). ``event`` is an AuditEvent
    (any other name raises ValueError, before anything is written)."""
    fields = _columns(**row)
    with transaction.atomic():
        prev = _chain_head()
        key_id = keyring().primary_id
        digest = row_hash(key_id=key_id, prev_hash=prev, content=canonical(**fields))
        return AuditLog.objects.create(**fields, key_id=key_id, prev_hash=prev, hash=digest)


def audit_record_many(rows: Iterable[AuditRow]) -> list[AuditLog]:
    """Append rows to the chain in the given order as one step: the same rows as one audit_record
    each, with one lock, one read of the chain's head and one insert. Every event is checked
    before anything is written."""
    pending = [_columns(**row) for row in rows]
    if not pending:
        return []
    # No savepoint: the rows only ever go in with the caller's other writes (its transaction
    # fails with them), and a batch caller counts its statements.
    with transaction.atomic(savepoint=False):
        prev = _chain_head()
        key_id = keyring().primary_id
        made = []
        for fields in pending:
            digest = row_hash(key_id=key_id, prev_hash=prev, content=canonical(**fields))
            made.append(AuditLog(**fields, key_id=key_id, prev_hash=prev, hash=digest))
            prev = digest
        made = AuditLog.objects.bulk_create(made)
        # The verifier walks the chain in id order; Postgres numbers a multi-row INSERT in VALUES
        # order, and the lock keeps other writers out. Should that ever not hold, roll back rather
        # than commit a chain that reads as broken.
        ids = [row.pk for row in made]
        if ids != sorted(ids):
            raise RuntimeError("audit rows were numbered out of chain order")
        return made


# Raw and constant: the ORM's compile of this read was ~2 % of an llm worker (issue 22).
_HEAD = f"SELECT hash FROM {AuditLog._meta.db_table} ORDER BY id DESC LIMIT 1"  # noqa: S608


def _chain_head() -> str:
    """Take the chain's lock (until commit) and read the hash of its last row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        # A statement of its own, after the lock's: under READ COMMITTED a statement sees what was
        # committed when it started, and one that waited for the lock inside itself would read the
        # head as it was before the last holder's commit, and fork the chain.
        cursor.execute(_HEAD)
        row = cursor.fetchone()
    return row[0] if row else GENESIS
