from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from apps.wechat.adapters.base import ChannelAdapter, PermanentDeliveryError


@cache
def get_adapter(channel: str) -> ChannelAdapter:
    path = settings.DESK_CHANNEL_ADAPTERS.get(channel)
    if path is None:
        raise PermanentDeliveryError(f"no adapter is configured for channel {channel!r}")
    return import_string(path)()
