"""Load the demo shop's canned responses (apps/console/data/demo_canned_responses.csv) into a local desk."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.console.demo import demo_canned_responses_rows
from apps.console.models import CannedResponse


class Command(BaseCommand):
    help = (
        "Add the demo shop's canned responses (greeting, order number, refunds, invoices, opening hours…); "
        "shortcuts that already exist are left as they are. Local desks only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="load even with DEBUG off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("console_demo loads a made-up shop's replies: local desks only (or --force).")
        added = 0
        for row in demo_canned_responses_rows():
            # The shortcut is what agents type ("/refund" + Tab): an existing one keeps its text.
            if CannedResponse.objects.filter(shortcut=row["shortcut"]).exists():
                continue
            response = CannedResponse(title=row["title"], shortcut=row["shortcut"], body=row["body"])
            response.full_clean()
            response.save()
            added += 1
        self.stdout.write(f"Demo shop: {added} canned responses added.")
