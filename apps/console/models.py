from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField


class Workspace(models.Model):
    """No table: the admin's entry to the console and the holder of its permission."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("use_console", _("Can use the agent console"))]
        verbose_name = _("agent console")
        verbose_name_plural = _("agent console")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class CannedResponse(models.Model):
    title = models.CharField(_("title"), max_length=80)
    shortcut = models.SlugField(
        _("shortcut"), max_length=32, unique=True, help_text=_("Type /shortcut in the composer.")
    )
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    """Internal note on a conversation: seen by staff only, never sent to the customer."""

    conversation = models.ForeignKey(
        "conversations.Conversation", verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = EncryptedTextField(_("note"))  # staff write about customers: encrypted at rest
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        indexes = [models.Index(fields=["conversation", "created_at"], name="console_note_conversation")]

    def __str__(self) -> str:
        return self.body[:40]
