"""The database backend (project/db/postgresql): django_prometheus's django_db_* series, counted once
per statement, with a failed statement's exception type."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from prometheus_client import REGISTRY

DB = {"alias": "default", "vendor": "postgresql"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_each_statement_is_counted_and_timed_once_and_a_failure_by_its_type() -> None:
    executed = sample("django_db_execute_total", **DB)
    timed = sample("django_db_query_duration_seconds_count", **DB)
    many = sample("django_db_execute_many_total", **DB)
    failed = sample("django_db_errors_total", **DB, type="UndefinedTable")

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT %s", [2])
        cursor.execute("CREATE TEMP TABLE metrics_probe (n int)")
        cursor.executemany("INSERT INTO metrics_probe VALUES (%s)", [(1,), (2,), (3,)])

    # 3 executes and 3 rows of one executemany (counted as 3, as django_prometheus counts them)
    assert sample("django_db_execute_total", **DB) - executed == 6
    assert sample("django_db_execute_many_total", **DB) - many == 3
    assert sample("django_db_query_duration_seconds_count", **DB) - timed == 4
    assert sample("django_db_errors_total", **DB, type="UndefinedTable") == failed

    with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_anywhere")
    # by the driver's own exception type, before Django wraps it
    assert sample("django_db_errors_total", **DB, type="UndefinedTable") - failed == 1
