import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _


class Entry(models.Model):
    """One curated answer with the ways customers ask for it."""

    question = models.CharField(_("question"), max_length=300)
    variants = models.TextField(
        _("other phrasings"), blank=True, help_text=_("One phrasing of the same question per line.")
    )
    answer = models.TextField(_("answer"))
    tags = models.CharField(_("tags"), max_length=200, blank=True, help_text=_("Comma-separated."))
    enabled = models.BooleanField(_("enabled"), default=True)
    direct_answer = models.BooleanField(
        _("answer directly"),
        default=True,
        help_text=_("Send this answer as it is when a question matches it closely; otherwise only the model reads it."),
    )
    # float32 rows, one per phrasing (question first), unit length; written by the embed task.
    embedding = models.BinaryField(_("embedding"), null=True, blank=True, editable=False)
    # Digest of the model and phrasings the embedding was computed from: a mismatch means stale.
    embedding_key = models.CharField(_("embedding key"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("knowledge entry")
        verbose_name_plural = _("knowledge entries")
        indexes = [models.Index(fields=["enabled"], name="knowledge_entry_enabled")]

    def __str__(self) -> str:
        return self.question

    def phrases(self) -> list[str]:
        lines = [self.question.strip(), *(line.strip() for line in self.variants.splitlines())]
        return list(dict.fromkeys(line for line in lines if line))

    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


def embedding_key_of(*, model: str, phrases: list[str]) -> str:
    return hashlib.sha256("\n".join([model, *phrases]).encode()).hexdigest()


class HumanRequestExample(models.Model):
    """A message that asks for a person, or one that mentions staff without asking: the default
    human-request detector (apps/knowledge/human_request.py) learns from the enabled ones."""

    class Kind(models.TextChoices):
        POSITIVE = "positive", _("asks for a person")
        NEGATIVE = "negative", _("does not ask (mentions staff, or another question)")

    text = models.CharField(_("message"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("example of asking for a person")
        verbose_name_plural = _("examples of asking for a person")
        ordering = ["kind", "text"]

    def __str__(self) -> str:
        return self.text
