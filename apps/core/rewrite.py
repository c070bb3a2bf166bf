"""Rewrite text columns of a table page by page: the one loop behind encrypting existing rows
(migrations) and re-encrypting them under a new key (rotate_keys)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# (column, stored value) -> the value to write, or None to leave it as it is.
Transform = Callable[[str, str], str | None]


@dataclass(frozen=True)
class Page:
    read: int  # rows read; 0 means the table is done
    last: Any  # primary key of the last row read, where the next page starts
    changed: int  # rows written


def columns_rewrite_page(
    cursor: Any,
    *,
    table: str,
    pk: str,
    columns: Sequence[str],
    after: Any,
    limit: int,
    transform: Transform,
    lock: bool = False,
) -> Page:
    """Read the next ``limit`` rows after primary key ``after`` (None: from the start) and write
    back whatever ``transform`` changes. With ``lock`` the rows are locked until the caller's
    transaction ends."""
    quote = cursor.db.ops.quote_name
    selected = ", ".join(quote(c) for c in columns)
    where = f"WHERE {quote(pk)} > %s " if after is not None else ""
    cursor.execute(
        f"SELECT {quote(pk)}, {selected} FROM {quote(table)} {where}ORDER BY {quote(pk)} LIMIT %s"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        [after, limit] if after is not None else [limit],
    )
    rows = cursor.fetchall()
    changed = 0
    for row_pk, *values in rows:
        updates = {}
        for column, value in zip(columns, values, strict=True):
            if value is not None and (new := transform(column, value)) is not None:
                updates[column] = new
        if updates:
            assignments = ", ".join(f"{quote(c)} = %s" for c in updates)
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk)} = %s",  # noqa: S608
                [*updates.values(), row_pk],
            )
            changed += 1
    return Page(read=len(rows), last=rows[-1][0] if rows else after, changed=changed)
