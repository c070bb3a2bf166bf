"""Media lifetime: the purge after DESK_MEDIA_RETENTION_DAYS, and re-sealing for rotate_keys.

The purge deletes the file and keeps the row (kind, size, hash, the text read, when it was
purged), so the conversation still says a picture was sent; one audit row per run records how
many files went and the cut-off.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.conversations.media.store import attachment_discard, attachment_rekey
from apps.conversations.models import Attachment

_BATCH = 200


def media_purge(*, batch: int = _BATCH) -> int:
    """Delete the files of media older than the retention period. Returns how many went."""
    days = settings.DESK_MEDIA_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    purged = 0
    while True:
        with transaction.atomic():
            page = list(
                Attachment.objects.select_for_update(skip_locked=True)
                .filter(status=Attachment.Status.STORED, created_at__lt=cutoff)
                .order_by("created_at")[:batch]
            )
            for attachment in page:
                attachment_discard(attachment)
                attachment.status = Attachment.Status.PURGED
                attachment.purged_at = timezone.now()
                attachment.save(update_fields=["file", "status", "purged_at"])
        purged += len(page)
        if len(page) < batch:
            break
    if purged:
        audit_record(
            kind=AuditLog.Kind.SYSTEM,
            event=AuditEvent.MEDIA_PURGED,
            details={"files": purged, "older_than": cutoff.isoformat(), "retention_days": days},
        )
    return purged


def media_rekey(*, progress: Any, **_: Any) -> int:
    """Receiver of core's files_rekey: re-seal every stored file under the primary key."""
    stored = Attachment.objects.filter(status=Attachment.Status.STORED).exclude(file="")
    rekeyed = 0
    with progress(stored.count(), "conversations_attachment files") as bar:
        for attachment in stored.order_by("pk").iterator(chunk_size=200):
            rekeyed += attachment_rekey(attachment)
            bar.update(1)
    return rekeyed
