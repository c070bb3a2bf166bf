import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import channel_choices

MANAGER_PERMISSION = "reports.manager"


class ExportStorage(FileSystemStorage):
    """A private directory (settings.REPORTS_EXPORT_ROOT, read at each use): no public URL."""

    @property
    def base_location(self) -> str:
        return str(settings.REPORTS_EXPORT_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("export files are served only by the permission-checked download view")


def export_storage() -> Storage:
    return ExportStorage()


class Export(models.Model):
    """A file of messages (one row each) or conversations (one row each, with their lifecycle
    figures) for a date range, written by a task, downloaded when ready."""

    class Kind(models.TextChoices):
        MESSAGES = "messages", _("Messages")
        CONVERSATIONS = "conversations", _("Conversations")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.SET_NULL, null=True
    )
    kind = models.CharField(_("rows"), max_length=16, choices=Kind.choices, default=Kind.MESSAGES)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to (inclusive)"))
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), storage=export_storage, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        # The one permission managers need: the dashboard, exports and the daily e-mail.
        permissions = [("manager", _("Manager: view the dashboard and export reports"))]
        indexes = [models.Index(fields=["-created_at"], name="reports_export_recent")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.format} {self.date_from}–{self.date_to} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
