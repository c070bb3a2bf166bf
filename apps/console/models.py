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


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="agent_profile"
    )
    # WeCom 客服 needs the servicer's WeCom userid when a human takes a kf conversation.
    wecom_userid = models.CharField(_("WeCom userid"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


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


class ConversationEvent(models.Model):
    """Who changed a conversation's mode or assignee, and when: the timeline's system events."""

    class Kind(models.TextChoices):
        REQUESTED_HUMAN = "requested_human", _("Customer asked for a human")
        TAKEN_OVER = "taken_over", _("Taken over")
        HANDED_BACK = "handed_back", _("Handed back to the bot")
        ASSIGNED = "assigned", _("Assigned")
        CLOSED = "closed", _("Closed")

    conversation = models.ForeignKey(
        "conversations.Conversation", verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [models.Index(fields=["conversation", "created_at"], name="console_event_conversation")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.kind}"
