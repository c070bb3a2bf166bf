from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.core.fields import EncryptedTextField
from apps.llm import selectors, services
from apps.llm.models import Endpoint, PromptSettings
from apps.llm.sampling import PromptSettingsForm


@admin.register(Endpoint)
class EndpointAdmin(AuditedAdminMixin, admin.ModelAdmin[Endpoint]):
    list_display = ["name", "base_url", "model", "weight", "enabled", "max_concurrency", "breaker"]
    list_filter = ["enabled"]
    list_editable = ["weight", "enabled"]
    search_fields = ["name", "base_url", "model"]
    actions = ["check_health"]
    # The key is stored encrypted; in the form it is one masked line, kept on re-save.
    formfield_overrides = {EncryptedTextField: {"widget": forms.PasswordInput(render_value=True)}}
    fieldsets = [
        (None, {"fields": ["name", "base_url", "model", "api_key", "weight", "enabled", "thinks"]}),
        (_("Limits"), {"fields": ["connect_timeout_s", "read_timeout_s", "total_timeout_s", "max_concurrency"]}),
    ]

    @admin.display(description=_("breaker"))
    def breaker(self, obj: Endpoint) -> str:
        try:
            return selectors.endpoint_state(endpoint_id=obj.pk)
        except Exception:
            return "?"

    @admin.action(description=_("Check health now"))
    def check_health(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        selectors.endpoints_cache_clear()
        by_id = {e.id: e for e in selectors.endpoints_enabled()}
        for endpoint in queryset:
            config = by_id.get(endpoint.pk)
            if config is None:
                self.message_user(request, _("%(name)s is disabled.") % {"name": endpoint.name}, messages.WARNING)
                continue
            health = services.endpoint_probe(endpoint=config)
            level = messages.SUCCESS if health.ok else messages.ERROR
            self.message_user(request, f"{health.endpoint}: {health.detail}", level)


@admin.register(PromptSettings)
class PromptSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin[PromptSettings]):
    list_display = ["__str__", "temperature", "top_p", "max_tokens", "context_turns", "updated_at"]
    # A temperature outside the seed's 0.3-0.7 for R1 needs a ticked confirmation (apps/llm/sampling.py).
    form = PromptSettingsForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row only: the answerer reads the first one.
        return not PromptSettings.objects.exists()
