"""Reads of the connector configuration."""

import time

from apps.connectors.models import Connector

ORDERS_PERMISSION = "connectors.see_orders"
AFTER_SALE_PERMISSION = "connectors.start_after_sale"

# The shop step asks for the active connector on every customer message: a query each, for a row
# that changes when an admin edits it. Kept per process for a few seconds (as the WeChat account
# look-up is); a save or delete in this process clears it at once (apps.py), other processes follow
# within the TTL.
_ACTIVE_TTL_S = 5.0
_active: tuple[float, Connector | None] | None = None


def connector_active() -> Connector | None:
    """The shop connector in use: the first enabled one (one shop per desk for now)."""
    global _active
    hit = _active
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    connector = Connector.objects.filter(enabled=True).order_by("pk").first()
    _active = (time.monotonic() + _ACTIVE_TTL_S, connector)
    return connector


def connector_cache_clear(**_: object) -> None:
    global _active
    _active = None
