"""Load the demo blacklist, allowlist and semantic rules (apps/moderation/data/demo_*.csv) into this desk."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.moderation import services
from apps.moderation.demo import demo_allowlist_rows, demo_blacklist_rows, demo_semantic_rules_rows, example_lines
from apps.moderation.models import AllowlistEntry, SemanticRule, Term


class Command(BaseCommand):
    help = "Add the demo blacklist, allowlist and semantic rules; rows that already exist are left as they are."

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
        ruled = self._semantic_rules()
        self.stdout.write(
            f"Demo rules: {added} blacklist terms, {allowed} allowlist entries and {ruled} semantic rules added."
        )

    def _semantic_rules(self) -> int:
        # Rules have no natural key: a demo rule counts as present when its category and note are
        # (the admin may have tuned its examples or threshold) or its examples are (renamed note).
        present = list(SemanticRule.objects.all())
        added = 0
        for row in demo_semantic_rules_rows():
            examples = example_lines(row["examples"])
            if any(
                (rule.category, rule.note) == (row["category"], row["note"]) or rule.example_list() == examples
                for rule in present
            ):
                continue
            rule = SemanticRule(
                category=row["category"],
                examples="\n".join(examples),
                threshold=float(row["threshold"]),
                action=row["action"],
                enabled=row["enabled"] == "1",
                note=row["note"],
            )
            present.append(services.semantic_rule_save(rule=rule))
            added += 1
        return added
