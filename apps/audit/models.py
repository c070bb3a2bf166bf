from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField


class AuditLog(models.Model):
    """One row per bot exchange or staff action. Append-only: a trigger refuses UPDATE and
    DELETE (migration 0002), and each row's HMAC chains it to the one before."""

    class Kind(models.TextChoices):
        EXCHANGE = "exchange", _("Bot exchange")
        STAFF = "staff", _("Staff action")
        SYSTEM = "system", _("System")

    created_at = models.DateTimeField(_("time"), db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    event = models.CharField(_("event"), max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.PROTECT, null=True, blank=True
    )
    customer_ref = models.CharField(_("customer"), max_length=160, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    conversation_id_ref = models.BigIntegerField(_("conversation"), null=True, blank=True, db_index=True)
    message_id_ref = models.BigIntegerField(_("message"), null=True, blank=True)
    query = EncryptedTextField(_("query"), blank=True)
    response = EncryptedTextField(_("response"), blank=True)
    model = models.CharField(_("model"), max_length=200, blank=True)
    endpoint = models.CharField(_("endpoint"), max_length=64, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    key_id = models.CharField(_("key id"), max_length=32)  # which DESK_ENCRYPTION_KEYS entry keyed the HMAC
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ("-id",)
        permissions = [("export_auditlog", "Can export the audit log")]
        indexes = [models.Index(fields=["kind", "-created_at"], name="audit_kind_recent")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event}"
