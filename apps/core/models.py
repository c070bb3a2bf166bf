from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import BlindIndexField, EncryptedTextField


class ApiToken(models.Model):
    """A bearer token for a machine client (the Wechaty bridge, an integration).

    Only a SHA-256 of the token is stored; the token itself is shown once, when created.
    """

    class Scope(models.TextChoices):
        INBOUND = "inbound", _("Post customer messages (inbound API)")

    name = models.CharField(_("name"), max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=8, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, null=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class StaffNote(models.Model):
    """What staff write about customers (on a conversation, on a customer): seen by staff only,
    encrypted at rest, searchable through its keyed blind index (core/blind_index.py)."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = EncryptedTextField(_("note"))
    search_index = BlindIndexField(verbose_name=_("search index"), source="body")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.body[:40]
