from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundText:
    message_id: int
    conversation_id: int
    channel: str
    customer_external_id: str
    text: str


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    """Worth retrying: timeouts, 5xx, connection refused."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: unknown recipient, quota exhausted, channel not configured."""


class ChannelAdapter(Protocol):
    channel: str
    # WeChat text messages are capped in bytes, not characters; the reply planner splits on this.
    max_text_bytes: int

    def send(self, outbound: OutboundText) -> None:
        """Deliver one text, or raise a DeliveryError subclass."""
        ...
