"""What a shop connector is: the interface every connector implements, and what it answers.

A custom connector is a class with these four methods (``ShopConnector``), named by its dotted path
in a Connector row of kind "python" and built with that row (``cls(connector=row)``); see
docs/connectors.md. Errors are ``ConnectorError``: the desk then hands the customer to a person.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from apps.connectors.models import Connector

ErrorKind = Literal["down", "timeout", "malformed", "refused"]


@dataclass(frozen=True)
class Shopper:
    """Who asks, as the shop knows them: ``identity`` is "<channel>:<external id>" (the shop binds
    orders to it), ``phone_last4`` the last four digits of the order's phone, when the customer gave them."""

    identity: str
    phone_last4: str = ""


@dataclass(frozen=True)
class TrailEvent:
    time: str
    text: str


@dataclass(frozen=True)
class Order:
    order_no: str
    status: str
    owner: str = ""  # the identity the shop bound the order to
    phone_last4: str = ""
    title: str = ""
    carrier: str = ""
    tracking_no: str = ""
    eta: str = ""
    placed_at: str = ""
    trail: tuple[TrailEvent, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        latest = self.trail[0] if self.trail else None
        return {
            "order_no": self.order_no,
            "status": self.status,
            "title": self.title,
            "carrier": self.carrier,
            "tracking_no": self.tracking_no,
            "eta": self.eta,
            "placed_at": self.placed_at,
            "latest": {"time": latest.time, "text": latest.text} if latest else None,
        }


class ConnectorError(Exception):
    """The shop could not answer: ``kind`` down (refused, 5xx), timeout, malformed (an answer that does
    not parse or map) or refused (4xx: a bad signature or configuration)."""

    def __init__(self, message: str, *, kind: ErrorKind) -> None:
        super().__init__(message)
        self.kind = kind


class ShopConnector(Protocol):
    def order(self, *, order_no: str, shopper: Shopper) -> Order | None: ...

    def orders(self, *, shopper: Shopper) -> list[Order]: ...  # newest first

    def trail(self, *, order_no: str, shopper: Shopper) -> list[TrailEvent]: ...  # newest first

    def after_sale_create(self, *, order_no: str, shopper: Shopper, reason: str) -> str: ...  # the shop's id


class ConnectorFactory(Protocol):
    def __call__(self, *, connector: "Connector") -> ShopConnector: ...
