"""Reads of the connector configuration."""

from apps.connectors.models import Connector

ORDERS_PERMISSION = "connectors.see_orders"
AFTER_SALE_PERMISSION = "connectors.start_after_sale"


def connector_active() -> Connector | None:
    """The shop connector in use: the first enabled one (one shop per desk for now)."""
    return Connector.objects.filter(enabled=True).order_by("pk").first()
