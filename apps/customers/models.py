"""The person behind a customer's channel identities, their labels and notes, and labels on conversations.

The spine knows a customer per channel (conversations.Customer: one row per Official Account
openid, kf external user, Wechaty contact). A Person gathers the identities of one human: linked
by WeChat's unionid when a channel gives it, or merged by an agent. Merges move rows and are
recorded (PersonMerge) with what they moved, so that undoing one puts every row back; the merged
Person is kept (``merged_into``), never deleted.
"""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffNote

COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"


class Person(models.Model):
    # Blank: the profile shows the newest identity's name (selectors.person_name).
    display_name = models.CharField(_("display name"), max_length=128, blank=True)
    # WeChat's id of one user across an open platform's apps; set when a channel reports it.
    unionid = models.CharField(_("WeChat unionid"), max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_persons",
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer profile")
        verbose_name_plural = _("customer profiles")
        permissions = [("merge_person", _("Can merge customer profiles and undo merges"))]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"


class PersonMerge(models.Model):
    """One merge of ``merged`` into ``kept``, with what it moved (``moved``) so that undo is exact."""

    class Reason(models.TextChoices):
        AGENT = "agent", _("Merged by an agent")
        UNIONID = "unionid", _("Same WeChat unionid")

    kept = models.ForeignKey(Person, verbose_name=_("kept"), on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Person, verbose_name=_("merged"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    # {"identities": [prior state per identity], "labels": {"moved": [ids], "dropped": [rows]},
    #  "notes": [ids], "unionid": str | None}: services/merge.py writes and reads it.
    moved = models.JSONField(_("moved"), default=dict)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("undone by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.kept_id}"


class Identity(models.Model):
    """A channel identity (conversations.Customer) and the Person it belongs to now."""

    class LinkedBy(models.TextChoices):
        FIRST_CONTACT = "first_contact", _("First contact")
        UNIONID = "unionid", _("Same WeChat unionid")
        AGENT = "agent", _("Merged by an agent")

    customer = models.OneToOneField(
        "conversations.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="identity"
    )
    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="identities")
    linked_by = models.CharField(_("linked by"), max_length=16, choices=LinkedBy.choices)
    linked_at = models.DateTimeField(_("linked at"))
    linked_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("linked by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    previous_person = models.ForeignKey(
        Person, verbose_name=_("previous person"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The merge that brought it here; undoing the identity's merge undoes that one.
    merge = models.ForeignKey(
        PersonMerge, verbose_name=_("merge"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("channel identity")
        verbose_name_plural = _("channel identities")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.person_id}"


class Label(models.Model):
    name = models.CharField(_("name"), max_length=32, unique=True)
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#607d8b",
        validators=[RegexValidator(COLOUR_PATTERN, _("Enter a colour as #rrggbb."))],
        help_text=_("As #rrggbb, e.g. #e53935."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]
        constraints = [
            # The colour lands in the pages' style attributes: the database refuses anything else too.
            models.CheckConstraint(condition=Q(colour__regex=COLOUR_PATTERN), name="label_colour_hex"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerLabel(models.Model):
    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="labels")
    label = models.ForeignKey(Label, verbose_name=_("label"), on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("added by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("customer label")
        verbose_name_plural = _("customer labels")
        constraints = [models.UniqueConstraint(fields=["person", "label"], name="customer_label_once")]
        # Routing and search look customers up by label.
        indexes = [models.Index(fields=["label", "person"], name="customer_label_by_label")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.label_id}"


class ConversationLabel(models.Model):
    conversation = models.ForeignKey(
        "conversations.Conversation", verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="+"
    )
    label = models.ForeignKey(Label, verbose_name=_("label"), on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("added by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("conversation label")
        verbose_name_plural = _("conversation labels")
        constraints = [models.UniqueConstraint(fields=["conversation", "label"], name="conversation_label_once")]
        indexes = [models.Index(fields=["label", "conversation"], name="conversation_label_by_label")]

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.label_id}"


class CustomerNote(StaffNote):
    """Staff's note on a customer (not on one conversation): never sent to the customer."""

    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="notes")

    class Meta:
        verbose_name = _("customer note")
        verbose_name_plural = _("customer notes")
        indexes = [
            models.Index(fields=["person", "created_at"], name="customer_note_person"),
            GinIndex(fields=["search_index"], name="customer_note_search_index"),
        ]
