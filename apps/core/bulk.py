"""Writing many rows at once, each with values of its own.

QuerySet.bulk_update builds one CASE WHEN per row and column; resolving those expressions costs
Django about a millisecond per row, more than the database takes for the whole statement. The
assigner's batches write fifty rows in several tables at a time, so they join a VALUES list on
the primary key instead: one statement, and no expression tree.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router


def rows_update(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of ``objs`` (saved rows of one model) in one UPDATE; returns the rows changed.

    Like bulk_update, it calls no save() nor signals and leaves auto_now fields alone."""
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    if meta.pk is None:
        raise TypeError(f"{model.__name__} has no primary key")
    key = meta.pk
    columns: list[models.Field[Any, Any]] = [key]
    for name in fields:
        column = meta.get_field(name)
        if not isinstance(column, models.Field) or not column.concrete:
            raise TypeError(f"rows_update writes concrete columns only, not {name!r}")
        columns.append(column)
    # Cast every placeholder: a VALUES list has no column types of its own to go by.
    row = "(" + ", ".join(f"%s::{column.db_type(connection)}" for column in columns) + ")"
    params = [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs for column in columns]
    quoted = [quote(column.column or column.name) for column in columns]
    names = ", ".join(quoted)
    assignments = ", ".join(f"{name} = v.{name}" for name in quoted[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names from the model, values bound
        f"FROM (VALUES {', '.join([row] * len(objs))}) AS v ({names}) "
        f"WHERE t.{quoted[0]} = v.{quoted[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
