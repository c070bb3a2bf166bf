from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField
from apps.moderation.regex_guard import validate_regex_term


class Category(models.TextChoices):
    """The built-in categories: always valid, named in every language until an admin renames one.
    Admins add more as ContentCategory rows; terms, rules and allowlist entries store the key."""

    POLITICS = "politics", _("Politics")
    PORN = "porn", _("Pornography")
    FRAUD = "fraud", _("Fraud")
    ABUSE = "abuse", _("Abuse")
    COMPETITOR = "competitor", _("Competitor")
    PII = "pii", _("Personal information")
    OTHER = "other", _("Other")


class ContentCategory(models.Model):
    """A category as admins see it. The key never changes once created (terms, rules, allowlist
    entries and past flags' evidence hold it); renaming changes the name only."""

    key = models.SlugField(
        _("key"), max_length=16, unique=True, help_text=_("Stored on terms and rules; cannot be changed later.")
    )
    name = models.CharField(
        _("name"), max_length=100, blank=True, help_text=_("Empty for a built-in category: its translated name.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return str(Category(self.key).label) if self.key in Category.values else self.key

    @property
    def built_in(self) -> bool:
        return self.key in Category.values

    def clean(self) -> None:
        if not self.name and not self.built_in:
            raise ValidationError({"name": _("Give the new category a name.")})


def validate_category(key: str) -> None:
    """A built-in key (valid even where the rows were flushed) or an admin's category."""
    if key not in Category.values and not ContentCategory.objects.filter(key=key).exists():
        raise ValidationError(_("There is no category %(key)s."), code="unknown_category", params={"key": key})


class TermAction(models.TextChoices):
    BLOCK = "block", _("Block")
    MASK = "mask", _("Mask")
    FLAG = "flag", _("Flag for review")  # let it through, put it in the review queue
    HAND_OVER = "hand_over", _("Hand over to a human")


class Term(models.Model):
    class Kind(models.TextChoices):
        KEYWORD = "keyword", _("Keyword")
        REGEX = "regex", _("Regular expression")

    text = models.CharField(_("term"), max_length=300)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.KEYWORD)
    category = models.CharField(_("category"), max_length=16, validators=[validate_category])
    severity = models.PositiveSmallIntegerField(
        _("severity"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)], help_text=_("1 (low) to 5")
    )
    action = models.CharField(_("action"), max_length=16, choices=TermAction.choices, default=TermAction.BLOCK)
    match_pinyin = models.BooleanField(
        _("match pinyin"), default=False, help_text=_("Also catch the term written in pinyin or with homophones.")
    )
    match_initials = models.BooleanField(
        _("match pinyin initials"),
        default=False,
        help_text=_('Also catch the initials of its pinyin ("sb", "傻b"). Initials are short: use sparingly.'),
    )
    match_inserted = models.BooleanField(
        _("match with a character inserted"),
        default=False,
        help_text=_(
            'Also catch a two-character term with one digit or letter inside it ("冰1毒"); '
            "terms of three or more characters always are."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("blacklist term")
        verbose_name_plural = _("blacklist terms")
        constraints = [models.UniqueConstraint(fields=["text", "kind"], name="moderation_term_unique")]
        indexes = [models.Index(fields=["category", "enabled"], name="moderation_term_category")]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        self.text = self.text.strip()
        if not self.text:
            raise ValidationError({"text": _("The term is empty.")})
        if self.kind == self.Kind.REGEX:
            try:
                validate_regex_term(self.text)
            except ValidationError as exc:
                raise ValidationError({"text": exc.messages}) from exc


class SemanticRule(models.Model):
    category = models.CharField(_("category"), max_length=16, validators=[validate_category])
    examples = models.TextField(_("example phrases"), help_text=_("One phrase per line."))
    threshold = models.FloatField(
        _("similarity threshold"),
        default=0.85,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Cosine similarity to the closest example at which the rule fires."),
    )
    action = models.CharField(_("action"), max_length=16, choices=TermAction.choices, default=TermAction.HAND_OVER)
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("semantic rule")
        verbose_name_plural = _("semantic rules")

    def __str__(self) -> str:
        return f"{self.category} ≥ {self.threshold:.2f}"

    def example_list(self) -> list[str]:
        return [line.strip() for line in self.examples.splitlines() if line.strip()]

    def clean(self) -> None:
        if not self.example_list():
            raise ValidationError({"examples": _("Give at least one example phrase.")})


class AllowlistEntry(models.Model):
    """A phrase never flagged although it contains a term: it cancels the hits it covers."""

    phrase = models.CharField(_("phrase"), max_length=300)
    category = models.CharField(
        _("category"),
        max_length=16,
        blank=True,
        validators=[validate_category],
        help_text=_("Cancel only hits of this category; empty for every category."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("allowlist entry")
        verbose_name_plural = _("allowlist")
        constraints = [models.UniqueConstraint(fields=["phrase", "category"], name="moderation_allow_unique")]

    def __str__(self) -> str:
        return self.phrase

    def clean(self) -> None:
        self.phrase = self.phrase.strip()
        if not self.phrase:
            raise ValidationError({"phrase": _("The phrase is empty.")})


class Flag(models.Model):
    """A moderation decision worth a human look; the console's review queue reads these."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    class Direction(models.TextChoices):
        INBOUND = "in", _("Customer message")
        OUTBOUND = "out", _("Bot answer")

    message = models.ForeignKey(
        "conversations.Message",
        verbose_name=_("message"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="moderation_flags",
        help_text=_("For a bot answer: the customer message it answered."),
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    verdict = models.CharField(_("verdict"), max_length=8)
    text = EncryptedTextField(_("checked text"))  # customer or answer text: encrypted like messages
    evidence = models.JSONField(_("evidence"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reviewer"), on_delete=models.SET_NULL, null=True, blank=True
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("moderation flag")
        verbose_name_plural = _("moderation flags")
        constraints = [
            # A retried task records its verdict again; one flag per message and direction.
            models.UniqueConstraint(
                fields=["message", "direction"], condition=models.Q(message__isnull=False), name="moderation_flag_once"
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="moderation_flag_queue")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.direction} {self.verdict} ({self.status})"
