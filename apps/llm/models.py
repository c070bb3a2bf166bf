from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField


class Endpoint(models.Model):
    """One OpenAI-compatible server (vLLM serving DeepSeek-R1, usually) in the answering pool."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    base_url = models.URLField(_("base URL"), help_text=_("Up to and without /v1, e.g. http://gpu-1:8000"))
    model = models.CharField(_("model"), max_length=200, help_text=_("The model name the server serves."))
    # Plain text until the encrypted field lands with the encryption issue.
    api_key = EncryptedTextField(_("API key"), blank=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1, validators=[MaxValueValidator(1000)])
    enabled = models.BooleanField(_("enabled"), default=True)
    thinks = models.BooleanField(
        _("reasons before answering"),
        default=True,
        help_text=_(
            "On for DeepSeek-R1 and other reasoning models: a reply cut off before its thought ends is never sent. "
            "Off for a plain chat model: a cut reply is trimmed to its last full sentence."
        ),
    )
    connect_timeout_s = models.FloatField(
        _("connect timeout (s)"), default=3.0, validators=[MinValueValidator(0.05), MaxValueValidator(60)]
    )
    read_timeout_s = models.FloatField(
        _("read timeout (s)"),
        default=60.0,
        validators=[MinValueValidator(0.05), MaxValueValidator(600)],
        help_text=_("Longest silence allowed between two streamed chunks (R1 may think a while before the first)."),
    )
    total_timeout_s = models.FloatField(
        _("total timeout (s)"), default=120.0, validators=[MinValueValidator(0.1), MaxValueValidator(900)]
    )
    max_concurrency = models.PositiveIntegerField(
        _("max concurrency"), default=256, help_text=_("Requests in flight to this server, per worker process.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("LLM endpoint")
        verbose_name_plural = _("LLM endpoints")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PromptSettings(models.Model):
    """The store's persona and sampling settings: one row, edited by admins."""

    instructions = models.TextField(
        _("instructions"),
        default="你是本店的微信客服助手。请用简短、礼貌的中文回答顾客的问题；不确定时请说明会转人工客服。",
        help_text=_("Persona and rules. Knowledge snippets are appended to them for each question."),
    )
    instructions_in_user_turn = models.BooleanField(
        _("instructions in the user turn"),
        default=True,
        help_text=_("DeepSeek-R1 follows instructions best in the user turn; off sends them as a system prompt."),
    )
    temperature = models.FloatField(
        _("temperature"), default=0.6, validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    top_p = models.FloatField(_("top p"), default=0.95, validators=[MinValueValidator(0.01), MaxValueValidator(1)])
    max_tokens = models.PositiveIntegerField(_("max tokens"), default=1024, validators=[MaxValueValidator(32768)])
    context_turns = models.PositiveSmallIntegerField(_("context turns"), default=5, validators=[MaxValueValidator(50)])
    context_max_tokens = models.PositiveIntegerField(
        _("context token budget"), default=2000, help_text=_("Older turns are dropped beyond this estimate.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("prompt settings")
        verbose_name_plural = _("prompt settings")

    def __str__(self) -> str:
        return str(_("Prompt settings"))
