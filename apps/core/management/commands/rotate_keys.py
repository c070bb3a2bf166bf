"""Re-encrypt every encrypted column under the primary key, in batches, with a progress bar."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from apps.core.crypto import decrypt, encrypt, key_id_of, keyring, new_key_spec
from apps.core.fields import EncryptedTextField

# Tables whose guard trigger allows rewriting encrypted columns only with this flag set.
_REKEY_FLAG = "SET LOCAL desk.audit_rekey = 'on'"


class Command(BaseCommand):
    help = (
        "Re-encrypt data under the first key of DESK_ENCRYPTION_KEYS. Put the new key first, keep the old "
        "ones after it, run this, then (once it reports 0 left) the old keys may be dropped from decryption "
        "— but keep any key that signed audit rows listed for audit_verify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=1000, help="rows per transaction (default 1000)")
        parser.add_argument("--new-key", metavar="ID", help="print a fresh key entry with this id and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(new_key_spec(options["new_key"]))
            return
        ring = keyring()
        total_rewritten = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            total_rewritten += self._rotate(model, fields, ring.primary_id, options["batch"], options["verbosity"])
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {total_rewritten} rows under key {ring.primary_id!r}"))

    def _rotate(self, model: Any, fields: list[EncryptedTextField], primary: str, batch: int, verbosity: int) -> int:
        table, pk = model._meta.db_table, model._meta.pk.column
        columns = ", ".join(str(f.column) for f in fields)
        count = model._default_manager.count()
        rewritten, last = 0, None
        with tqdm(total=count, desc=table, unit="rows", disable=verbosity == 0, file=self.stderr) as bar:
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    where = f"WHERE {pk} > %s " if last is not None else ""
                    cursor.execute(
                        f"SELECT {pk}, {columns} FROM {table} {where}ORDER BY {pk} LIMIT %s FOR UPDATE",  # noqa: S608
                        [last, batch] if last is not None else [batch],
                    )
                    rows = cursor.fetchall()
                    if not rows:
                        return rewritten
                    cursor.execute(_REKEY_FLAG)
                    for row_pk, *values in rows:
                        updates = self._reencrypted(fields, values, primary)
                        if updates:
                            assignments = ", ".join(f"{column} = %s" for column in updates)
                            cursor.execute(
                                f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608
                                [*updates.values(), row_pk],
                            )
                            rewritten += 1
                    last = rows[-1][0]
                bar.update(len(rows))

    @staticmethod
    def _reencrypted(fields: list[EncryptedTextField], values: list[str | None], primary: str) -> dict[str, str]:
        updates: dict[str, str] = {}
        for field, stored in zip(fields, values, strict=True):
            if stored is None or key_id_of(stored) == primary:
                continue
            plain = decrypt(stored, context=field.crypto_context)
            updates[str(field.column)] = encrypt(plain, context=field.crypto_context)
        return updates
