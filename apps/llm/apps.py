from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _config_changed(**_kwargs: Any) -> None:
    # The saving process reads its own edit at once; the others within LLM_ENDPOINTS_CACHE_S.
    from apps.llm.selectors import endpoints_cache_clear

    endpoints_cache_clear()


class LlmConfig(AppConfig):
    name = "apps.llm"
    label = "llm"
    verbose_name = _("Language model")

    def ready(self) -> None:
        from apps.llm.models import Endpoint, PromptSettings

        for model in (Endpoint, PromptSettings):
            post_save.connect(_config_changed, sender=model, dispatch_uid=f"llm-config-saved-{model.__name__}")
            post_delete.connect(_config_changed, sender=model, dispatch_uid=f"llm-config-deleted-{model.__name__}")
