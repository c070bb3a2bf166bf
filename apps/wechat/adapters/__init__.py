"""Channel adapters: the one small interface every WeChat channel implements."""

from apps.wechat.adapters.base import (
    ChannelAdapter,
    DeliveryError,
    OutboundText,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from apps.wechat.adapters.registry import get_adapter

__all__ = [
    "ChannelAdapter",
    "DeliveryError",
    "OutboundText",
    "PermanentDeliveryError",
    "TransientDeliveryError",
    "get_adapter",
]
