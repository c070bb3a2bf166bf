"""Migration operation that encrypts (or, reversed, decrypts) existing rows of a column.

Used when a column becomes an EncryptedTextField: the schema change is a no-op for text,
but rows written before it hold plaintext, which the field would refuse to read.
"""

from typing import Any

from django.db import migrations

from apps.core.crypto import PREFIX, decrypt, encrypt
from apps.core.rewrite import columns_rewrite_page

_BATCH = 1000


def _rewrite(table: str, columns: tuple[str, ...], *, forward: bool) -> Any:
    def transform(column: str, value: str) -> str | None:
        encrypted = value.startswith(f"{PREFIX}:")
        context = f"{table}.{column}"
        if forward and not encrypted:
            return encrypt(value, context=context)
        if not forward and encrypted:
            return decrypt(value, context=context)
        return None

    def run(apps: Any, schema_editor: Any) -> None:
        last = None
        with schema_editor.connection.cursor() as cursor:
            while True:
                page = columns_rewrite_page(
                    cursor, table=table, pk="id", columns=columns, after=last, limit=_BATCH, transform=transform
                )
                if not page.read:
                    return
                last = page.last

    return run


def EncryptColumns(table: str, *columns: str) -> migrations.RunPython:
    return migrations.RunPython(_rewrite(table, columns, forward=True), _rewrite(table, columns, forward=False))
