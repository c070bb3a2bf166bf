from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorsConfig(AppConfig):
    name = "apps.connectors"
    verbose_name = _("Shop connectors")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.connectors.models import Connector
        from apps.connectors.selectors import connector_cache_clear

        # The active connector is cached per process (selectors.py): an edit here is seen at once.
        post_save.connect(connector_cache_clear, sender=Connector, dispatch_uid="connector-cache-save")
        post_delete.connect(connector_cache_clear, sender=Connector, dispatch_uid="connector-cache-delete")
