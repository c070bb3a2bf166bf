"""The audit log is append-only in the database, tamper-evident, and encrypted at rest."""

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditLog
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import GENESIS, audit_record

pytestmark = pytest.mark.django_db


def exchange(n: int) -> AuditLog:
    return audit_record(
        kind=AuditLog.Kind.EXCHANGE,
        event="bot.answer",
        customer_ref=f"simulator:cust-{n}",
        channel="simulator",
        query=f"我的订单{n}什么时候到？",
        response=f"您的订单{n}明天送达。",
        model="deepseek-r1",
        endpoint="gpu-1",
        latency_ms=1200 + n,
        client_ip="::ffff:10.0.0.7",
        details={"verdict_in": "allow", "verdict_out": "allow"},
    )


def raw(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def test_rows_chain_and_verify() -> None:
    rows = [exchange(i) for i in range(3)]

    assert rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].hash
    assert audit_chain_verify().checked == 3
    assert audit_chain_verify().broken is None


def test_raw_sql_finds_no_plaintext() -> None:
    exchange(1)
    (query, response) = raw("SELECT query, response FROM audit_auditlog")[0]

    assert "订单" not in str(query)
    assert "订单" not in str(response)
    assert str(query).startswith("v1:test:")
    assert AuditLog.objects.get().query == "我的订单1什么时候到？"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditlog SET event = 'bot.nothing'",
        "UPDATE audit_auditlog SET query = response",
        "DELETE FROM audit_auditlog",
    ],
)
def test_update_and_delete_are_refused_by_the_database(statement: str) -> None:
    exchange(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(statement)
    assert AuditLog.objects.count() == 1


def test_even_the_rekey_flag_allows_no_change_but_to_ciphertext() -> None:
    exchange(1)
    with transaction.atomic():
        raw("SET LOCAL desk.audit_rekey = 'on'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw("UPDATE audit_auditlog SET latency_ms = 1")


def _tamper(sql: str, params: list[Any]) -> None:
    # What an attacker with table-owner rights could do: switch the guard off and edit.
    with transaction.atomic():
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while deferred FK checks are pending
        raw("ALTER TABLE audit_auditlog DISABLE TRIGGER audit_auditlog_append_only")
        raw(sql, params)
        raw("ALTER TABLE audit_auditlog ENABLE TRIGGER audit_auditlog_append_only")


def test_audit_verify_reports_an_altered_row() -> None:
    rows = [exchange(i) for i in range(4)]
    _tamper("UPDATE audit_auditlog SET latency_ms = 1 WHERE id = %s", [rows[2].pk])

    report = audit_chain_verify()

    assert report.checked == 2
    assert report.broken is not None
    assert report.broken.audit_id == rows[2].pk
    assert "does not match its hash" in report.broken.reason


def test_audit_verify_reports_a_removed_row() -> None:
    rows = [exchange(i) for i in range(4)]
    _tamper("DELETE FROM audit_auditlog WHERE id = %s", [rows[1].pk])

    report = audit_chain_verify()

    assert report.broken is not None
    assert report.broken.audit_id == rows[2].pk
    assert "previous-hash link" in report.broken.reason


def test_audit_verify_reports_a_swapped_ciphertext() -> None:
    rows = [exchange(i) for i in range(2)]
    _tamper("UPDATE audit_auditlog SET query = response WHERE id = %s", [rows[1].pk])

    report = audit_chain_verify()

    assert report.broken is not None
    assert report.broken.audit_id == rows[1].pk
    assert "does not decrypt" in report.broken.reason


def test_the_command_fails_with_the_first_broken_link() -> None:
    rows = [exchange(i) for i in range(3)]
    call_command("audit_verify", verbosity=0)
    _tamper("UPDATE audit_auditlog SET event = 'x' WHERE id = %s", [rows[0].pk])

    with pytest.raises(CommandError, match=f"broken at row {rows[0].pk}"):
        call_command("audit_verify", verbosity=0)


def test_rotation_re_encrypts_and_leaves_every_row_readable_and_the_chain_intact(settings: object) -> None:
    from apps.core import crypto

    rows = [exchange(i) for i in range(5)]
    old_spec = settings.DESK_ENCRYPTION_KEYS  # type: ignore[attr-defined]
    settings.DESK_ENCRYPTION_KEYS = f"{crypto.new_key_spec('k2')},{old_spec}"  # type: ignore[attr-defined]
    crypto.keyring.cache_clear()
    try:
        call_command("rotate_keys", batch=2, verbosity=0)

        stored = [str(q) for (q,) in raw("SELECT query FROM audit_auditlog")]
        assert all(value.startswith("v1:k2:") for value in stored)
        assert [r.query for r in AuditLog.objects.order_by("id")] == [r.query for r in rows]
        assert audit_chain_verify().checked == 5
        assert audit_chain_verify().broken is None
    finally:
        settings.DESK_ENCRYPTION_KEYS = old_spec  # type: ignore[attr-defined]
        crypto.keyring.cache_clear()
