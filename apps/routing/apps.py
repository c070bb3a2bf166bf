from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "apps.routing"
    verbose_name = _("Routing")

    def ready(self) -> None:
        from apps.routing import receivers  # noqa: F401  (listens to the spine's queue signals)
