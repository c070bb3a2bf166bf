"""The browser simulator: a demo and test channel that travels the same path as WeChat.

Delivery means the reply (text or media) is committed as delivered and announced on the
customer's websocket group; the page also resyncs from Postgres, so a dropped event loses nothing.
"""

from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import ChannelAdapter, Outbound
from apps.core.side_effects import publish_on_commit
from apps.wechat.channels import SIMULATOR


def simulator_group(external_id: str) -> str:
    # Channels group names allow only ASCII alphanumerics, hyphens, underscores and periods.
    safe = "".join(ch if (ch.isalnum() and ch.isascii()) or ch in "-_" else "_" for ch in external_id)
    return f"simulator.{safe}"[:99]


class SimulatorAdapter(ChannelAdapter):
    channel = SIMULATOR
    label = _("Browser simulator")
    max_text_bytes = 8192
    # Every kind: the page shows images and offers the rest (apps/wechat/simulator_media.py).
    media_kinds = frozenset({"image", "voice", "video", "file"})

    def send(self, outbound: Outbound) -> None:
        publish_on_commit(
            simulator_group(outbound.customer_external_id),
            {"type": "simulator.message", "message_id": outbound.message_id},
        )
