"""Migration operation that encrypts (or, reversed, decrypts) existing rows of a column.

Used when a column becomes an EncryptedTextField: the schema change is a no-op for text,
but rows written before it hold plaintext, which the field would refuse to read.
"""

from typing import Any

from django.db import migrations

from apps.core.crypto import PREFIX, decrypt, encrypt

_BATCH = 1000


def _rewrite(table: str, columns: tuple[str, ...], *, forward: bool) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        quoted = ", ".join(schema_editor.quote_name(c) for c in columns)
        last = 0
        with schema_editor.connection.cursor() as cursor:
            while True:
                cursor.execute(
                    f"SELECT id, {quoted} FROM {schema_editor.quote_name(table)} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                    [last, _BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                for row_id, *values in rows:
                    updates = {}
                    for column, value in zip(columns, values, strict=True):
                        if value is None:
                            continue
                        encrypted = value.startswith(f"{PREFIX}:")
                        context = f"{table}.{column}"
                        if forward and not encrypted:
                            updates[column] = encrypt(value, context=context)
                        elif not forward and encrypted:
                            updates[column] = decrypt(value, context=context)
                    if updates:
                        assignments = ", ".join(f"{schema_editor.quote_name(c)} = %s" for c in updates)
                        cursor.execute(
                            f"UPDATE {schema_editor.quote_name(table)} SET {assignments} WHERE id = %s",  # noqa: S608
                            [*updates.values(), row_id],
                        )
                last = rows[-1][0]

    return run


def EncryptColumns(table: str, *columns: str) -> migrations.RunPython:
    return migrations.RunPython(_rewrite(table, columns, forward=True), _rewrite(table, columns, forward=False))
