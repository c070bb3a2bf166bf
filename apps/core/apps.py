from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.conf import settings

        from apps.core import gc_policy, memory, metrics, vault

        # First: every thread started after this allocates in one of these few arenas (memory.py).
        memory.configure(settings.DESK_MALLOC_ARENAS)
        metrics.celery_signals_connect()
        gc_policy.celery_signals_connect()
        # Keeps the Vault token the settings logged in with alive (no-op without VAULT_ADDR).
        vault.renewer_start()
