"""Load the demo shop's knowledge base (apps/knowledge/data/demo_store.csv) into a local desk."""

import csv
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.knowledge import services
from apps.knowledge.models import Entry

DEMO_STORE = Path(__file__).resolve().parents[2] / "data" / "demo_store.csv"


def demo_store_rows() -> list[dict[str, str]]:
    with DEMO_STORE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


class Command(BaseCommand):
    help = (
        "Add the demo shop's FAQ (returns, refunds, delivery, invoices, sizes, offers, opening hours) and "
        "embed it; entries whose question already exists are left as they are. Local desks only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="load even with DEBUG off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("knowledge_demo loads a made-up shop's answers: local desks only (or --force).")
        added: list[Entry] = []
        for row in demo_store_rows():
            if Entry.objects.filter(question=row["question"]).exists():
                continue
            entry = Entry(
                question=row["question"],
                variants=row["variants"],
                answer=row["answer"],
                tags=row["tags"],
                enabled=row["enabled"] == "1",
                direct_answer=row["direct_answer"] == "1",
            )
            added.append(services.entry_save(entry=entry))
        # Embedded here rather than by the queued tasks, so the desk that starts next already finds them.
        for entry in added:
            services.entry_embed(entry_id=entry.pk)
        self.stdout.write(f"Demo shop: {len(added)} knowledge entries added.")
