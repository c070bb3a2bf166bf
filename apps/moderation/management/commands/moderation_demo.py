"""Load the demo blacklist and allowlist (apps/moderation/data/demo_*.csv) into this desk."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.moderation import services
from apps.moderation.demo import demo_allowlist_rows, demo_blacklist_rows
from apps.moderation.models import AllowlistEntry, Term


class Command(BaseCommand):
    help = "Add the demo blacklist and allowlist; rows that already exist are left as they are."

    def handle(self, *args: Any, **options: Any) -> None:
        added = 0
        for row in demo_blacklist_rows():
            if Term.objects.filter(text=row["text"], kind=row["kind"]).exists():
                continue
            flags = {name: row[name] == "1" for name in ("match_pinyin", "match_initials", "match_inserted", "enabled")}
            term = Term(
                text=row["text"],
                kind=row["kind"],
                category=row["category"],
                severity=int(row["severity"]),
                action=row["action"],
                note=row["note"],
                **flags,
            )
            services.term_save(term=term)
            added += 1
        allowed = 0
        for row in demo_allowlist_rows():
            if AllowlistEntry.objects.filter(phrase=row["phrase"], category=row["category"]).exists():
                continue
            entry = AllowlistEntry(
                phrase=row["phrase"], category=row["category"], enabled=row["enabled"] == "1", note=row["note"]
            )
            services.allowlist_entry_save(entry=entry)
            allowed += 1
        self.stdout.write(f"Demo rules: {added} blacklist terms and {allowed} allowlist entries added.")
