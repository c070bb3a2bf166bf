from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffNote


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


class Note(StaffNote):
    """Internal note on a conversation: seen by staff only, never sent to the customer."""

    conversation = models.ForeignKey(
        "conversations.Conversation", verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="notes"
    )

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="console_note_conversation"),
            GinIndex(fields=["search_index"], name="console_note_search_index"),
        ]


class ReadMarker(models.Model):
    """How far an agent has read a conversation: inbound messages after it are unread for them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="+"
    )
    last_read_message_id = models.BigIntegerField(_("last read message"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("read marker")
        verbose_name_plural = _("read markers")
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="console_readmarker_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} up to {self.last_read_message_id}"


class AgentPreference(models.Model):
    """The agent's own switches for the inbox's notifications (browser notification and sound)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE, related_name="console_preference"
    )
    notify_assigned = models.BooleanField(_("a conversation is assigned to me"), default=True)
    notify_message = models.BooleanField(_("one of my conversations gets a message"), default=True)
    notify_queue = models.BooleanField(_("my team's queue grows"), default=True)
    sound = models.BooleanField(_("play a sound"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    SWITCHES = ("notify_assigned", "notify_message", "notify_queue", "sound")

    class Meta:
        verbose_name = _("agent preference")
        verbose_name_plural = _("agent preferences")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
