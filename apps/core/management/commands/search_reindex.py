"""Rebuild every keyed blind index (apps.core.blind_index) under the current search key."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.db.models import Field
from tqdm import tqdm

from apps.core.blind_index import index_rebuild
from apps.core.fields import BlindIndexField, EncryptedTextField


class Command(BaseCommand):
    help = (
        "Recompute the search index of every message, note and customer name under the search key derived "
        "from the first key of DESK_ENCRYPTION_KEYS. rotate_keys runs it; run it alone to repair an index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=1000, help="rows per transaction (default 1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, BlindIndexField):
                    continue
                source = model._meta.get_field(field.source)
                assert isinstance(source, Field)  # a field of the model itself, never a relation
                context = source.crypto_context if isinstance(source, EncryptedTextField) else None
                table = model._meta.db_table
                bar = tqdm(total=model._default_manager.count(), desc=f"{table}.{field.column}", unit="rows",
                           disable=options["verbosity"] == 0, file=self.stderr)  # fmt: skip
                with bar, connection.cursor() as cursor:
                    total += index_rebuild(
                        cursor,
                        table=table,
                        source=str(source.column),
                        target=str(field.column),
                        context=context,
                        batch=options["batch"],
                        progress=bar.update,
                        page=transaction.atomic,
                    )
        self.stdout.write(self.style.SUCCESS(f"rebuilt the search index of {total} rows"))
