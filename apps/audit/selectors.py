"""Reading the audit log back: chain verification."""

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from apps.audit.models import AuditLog
from apps.audit.services import GENESIS, canonical, row_hash
from apps.core.crypto import DecryptionError, decrypt

_COLUMNS = (
    "id, created_at, kind, event, actor_id, customer_ref, channel, conversation_id_ref, message_id_ref, "
    "query, response, model, endpoint, latency_ms, host(client_ip), details, key_id, prev_hash, hash"
)


@dataclass(frozen=True)
class ChainBreak:
    audit_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken: ChainBreak | None


def audit_chain_verify(*, progress: Callable[[int], None] | None = None, batch: int = 2000) -> ChainReport:
    """Walk the chain in id order and stop at the first row that does not hold.

    Reads raw columns with a server-side cursor so one undecryptable row is reported as a
    break instead of aborting the walk, and a million rows never sit in memory.
    """
    query_ctx = AuditLog._meta.get_field("query").crypto_context
    response_ctx = AuditLog._meta.get_field("response").crypto_context
    prev, checked = GENESIS, 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {_COLUMNS} FROM {AuditLog._meta.db_table} ORDER BY id")  # noqa: S608
        while rows := cursor.fetchmany(batch):
            for row in rows:
                (pk, created_at, kind, event, actor_id, customer_ref, channel, conversation_ref, message_ref,
                 query, response, model, endpoint, latency_ms, client_ip, details, key_id, prev_hash,
                 digest) = row  # fmt: skip
                if prev_hash != prev:
                    return ChainReport(checked, ChainBreak(pk, "its previous-hash link does not match the row before"))
                try:
                    content = canonical(
                        created_at=created_at,
                        kind=kind,
                        event=event,
                        actor_id=actor_id,
                        customer_ref=customer_ref,
                        channel=channel,
                        conversation_id_ref=conversation_ref,
                        message_id_ref=message_ref,
                        query=decrypt(query, context=query_ctx),
                        response=decrypt(response, context=response_ctx),
                        model=model,
                        endpoint=endpoint,
                        latency_ms=latency_ms,
                        client_ip=client_ip,
                        details=json.loads(details) if isinstance(details, str) else details,
                    )
                    expected = row_hash(key_id=key_id, prev_hash=prev_hash, content=content)
                except DecryptionError as exc:
                    return ChainReport(checked, ChainBreak(pk, f"it does not decrypt ({exc})"))
                if not hmac.compare_digest(expected, digest):
                    return ChainReport(checked, ChainBreak(pk, "its content does not match its hash"))
                prev, checked = digest, checked + 1
            if progress is not None:
                progress(len(rows))
    return ChainReport(checked, None)
