from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit.models import AuditLog
from apps.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        total = AuditLog.objects.count()
        with tqdm(total=total, unit="rows", disable=options["verbosity"] == 0, file=self.stderr) as bar:
            report = audit_chain_verify(progress=bar.update)
        if report.broken is not None:
            raise CommandError(
                f"audit chain broken at row {report.broken.audit_id}: {report.broken.reason} "
                f"({report.checked} rows before it verified)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} rows verified"))
