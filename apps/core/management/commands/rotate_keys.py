"""Re-encrypt every encrypted column under the primary key, in batches, with a progress bar, then
rebuild the search indexes (search_reindex) under the search key derived from it."""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from apps.core.crypto import decrypt, encrypt, key_id_of, keyring, new_key_spec
from apps.core.fields import EncryptedTextField
from apps.core.rewrite import columns_rewrite_page
from apps.core.signals import files_rekey
from apps.core.vault import VaultRefused, VaultUnavailable, session

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
        # Vault Transit (docs/security.md, "Vault"): the key ring's entries are data keys wrapped by Vault.
        parser.add_argument(
            "--rewrap",
            action="store_true",
            help="rotate the Transit key, print the key ring rewrapped under its new version and exit",
        )
        parser.add_argument(
            "--wrap", action="store_true", help="print the current key ring wrapped by Vault Transit and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        vault = session()
        if options["new_key"] or options["rewrap"] or options["wrap"]:
            try:
                self.stdout.write(self._key_ring_edit(vault, options))
            except (VaultUnavailable, VaultRefused) as exc:
                raise CommandError(str(exc)) from exc
            return
        ring = keyring()
        total_rewritten = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            total_rewritten += self._rotate(model, fields, ring.primary_id, options["batch"], options["verbosity"])
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {total_rewritten} rows under key {ring.primary_id!r}"))

        def progress(total: int, description: str) -> tqdm:
            quiet = options["verbosity"] == 0
            return tqdm(total=total, desc=description, unit="files", disable=quiet, file=self.stderr)

        files = sum(int(count or 0) for _, count in files_rekey.send(sender=self.__class__, progress=progress))
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {files} files under key {ring.primary_id!r}"))
        # The search key is derived from the primary key: the old index matches nothing any more.
        call_command("search_reindex", batch=options["batch"], verbosity=options["verbosity"],
                     stdout=self.stdout, stderr=self.stderr)  # fmt: skip

    def _key_ring_edit(self, vault: Any, options: dict[str, Any]) -> str:
        """An entry or a whole key ring to store (in Vault's KV, or DESK_ENCRYPTION_KEYS); nothing is written
        here. With Vault, a new key is a Transit data key the desk only ever sees wrapped."""
        if vault is None:
            if options["rewrap"] or options["wrap"]:
                raise CommandError("--rewrap and --wrap need Vault (VAULT_ADDR and its credentials).")
            return new_key_spec(options["new_key"])
        if options["new_key"]:
            return f"{options['new_key']}:{vault.data_key()}"
        if options["wrap"]:  # the ring in memory is plain whether it came from the KV or the environment
            return vault.wrap_spec(settings.DESK_ENCRYPTION_KEYS)
        stored = vault.read_secrets().get("DESK_ENCRYPTION_KEYS", "")
        # Rotating the key-encryption key changes no data key, so no row needs re-encrypting.
        vault.rotate_transit_key()
        return vault.rewrap_spec(stored)

    def _rotate(self, model: Any, fields: list[EncryptedTextField], primary: str, batch: int, verbosity: int) -> int:
        contexts = {str(f.column): f.crypto_context for f in fields}

        def reencrypt(column: str, stored: str) -> str | None:
            if key_id_of(stored) == primary:
                return None
            return encrypt(decrypt(stored, context=contexts[column]), context=contexts[column])

        rewritten, last = 0, None
        with tqdm(total=model._default_manager.count(), desc=model._meta.db_table, unit="rows",
                  disable=verbosity == 0, file=self.stderr) as bar:  # fmt: skip
            while True:
                # One transaction per page: a long table never holds its locks for the whole run.
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(_REKEY_FLAG)
                    page = columns_rewrite_page(
                        cursor,
                        table=model._meta.db_table,
                        pk=model._meta.pk.column,
                        columns=list(contexts),
                        after=last,
                        limit=batch,
                        transform=reencrypt,
                        lock=True,
                    )
                if not page.read:
                    return rewritten
                rewritten, last = rewritten + page.changed, page.last
                bar.update(page.read)
