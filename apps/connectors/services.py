"""Asking the shop, with the desk's rules around every call: only the customer's own orders, a rate
limit per customer, an audit row per look-up (who, which order, what came back), masked logs."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.module_loading import import_string

from apps.connectors.client import HttpConnector
from apps.connectors.intent import mask_order_no
from apps.connectors.models import Connector, Lookup
from apps.connectors.types import ConnectorError, Order, ShopConnector, Shopper
from apps.conversations.models import Customer
from apps.core.ratelimit import TokenBucket

logger = logging.getLogger(__name__)
T = TypeVar("T")
Result = Lookup.Result


@dataclass(frozen=True)
class Outcome:
    result: str
    order: Order | None = None
    orders: list[Order] = field(default_factory=list)


def connector_build(*, connector: Connector) -> ShopConnector:
    if connector.kind == Connector.Kind.PYTHON:
        factory = import_string(connector.entry_point)
        built: ShopConnector = factory(connector=connector)
        return built
    return HttpConnector(connector=connector)


def shopper_for(*, customer: Customer, phone_last4: str = "") -> Shopper:
    return Shopper(identity=f"{customer.channel}:{customer.external_id}", phone_last4=phone_last4)


def _visible(order: Order, shopper: Shopper) -> bool:
    # The desk checks again whatever the shop answered: the shop may look orders up by number alone.
    if order.owner and order.owner == shopper.identity:
        return True
    return bool(shopper.phone_last4) and order.phone_last4 == shopper.phone_last4


def _bucket() -> TokenBucket:
    per_minute = settings.DESK_CONNECTOR_RATE_PER_MINUTE
    return TokenBucket(name="connector", capacity=settings.DESK_CONNECTOR_RATE_BURST, per_second=per_minute / 60)


def lookup_rate_take(*, connector: Connector, customer: Customer, order_no: str = "") -> bool:
    """One token of the customer's look-up budget; False (and an audit row) when it is spent."""
    if _bucket().take(str(customer.pk)).allowed:
        return True
    _record(connector, customer, None, Lookup.Operation.ORDER, order_no, Result.RATE_LIMITED, "", 0)
    return False


def _record(
    connector: Connector,
    customer: Customer,
    agent: User | None,
    operation: str,
    order_no: str,
    result: str,
    detail: str,
    ms: int,
) -> None:
    Lookup.objects.create(
        connector=connector,
        customer=customer,
        agent=agent,
        operation=operation,
        order_no=order_no[:64],
        result=result,
        detail=detail[:200],
        ms=ms,
    )
    logger.info(
        "shop look-up %s order=%s customer=%s result=%s ms=%d",
        operation,
        mask_order_no(order_no) if order_no else "-",
        customer.pk,
        result,
        ms,
        extra={"connector": connector.name, "agent_id": getattr(agent, "pk", None)},
    )


@dataclass(frozen=True)
class _Who:
    connector: Connector
    customer: Customer
    agent: User | None
    order_no: str


def _timed(call: Callable[[], T], who: _Who, operation: str) -> tuple[T, int]:
    connector, customer, agent, order_no = who.connector, who.customer, who.agent, who.order_no
    started = time.monotonic()
    try:
        value = call()
    except ConnectorError as exc:
        ms = int((time.monotonic() - started) * 1000)
        _record(connector, customer, agent, operation, order_no, Result.FAILED, f"{exc.kind}: {exc}", ms)
        raise
    except Exception as exc:  # a custom connector's bug is the shop failing, not the desk
        ms = int((time.monotonic() - started) * 1000)
        _record(connector, customer, agent, operation, order_no, Result.FAILED, f"error: {type(exc).__name__}", ms)
        raise ConnectorError(type(exc).__name__, kind="malformed") from exc
    return value, int((time.monotonic() - started) * 1000)


def order_lookup(
    *,
    connector: Connector,
    customer: Customer,
    order_no: str,
    phone_last4: str = "",
    with_trail: bool = False,
    agent: User | None = None,
) -> Outcome:
    """One order by number, if it is the customer's (their identity, or the phone's last four)."""
    shop, shopper = connector_build(connector=connector), shopper_for(customer=customer, phone_last4=phone_last4)
    who = _Who(connector, customer, agent, order_no)
    order, ms = _timed(lambda: shop.order(order_no=order_no, shopper=shopper), who, Lookup.Operation.ORDER)
    if order is None or not _visible(order, shopper):
        result = Result.NOT_FOUND if order is None else Result.REFUSED
        _record(connector, customer, agent, Lookup.Operation.ORDER, order_no, result, "", ms)
        return Outcome(result=result)
    _record(connector, customer, agent, Lookup.Operation.ORDER, order_no, Result.FOUND, order.status, ms)
    if with_trail:
        found_no = order.order_no
        events, ms = _timed(lambda: shop.trail(order_no=found_no, shopper=shopper), who, Lookup.Operation.TRAIL)
        _record(connector, customer, agent, Lookup.Operation.TRAIL, order_no, Result.FOUND, f"{len(events)} events", ms)
        order = replace(order, trail=tuple(events))
    return Outcome(result=Result.FOUND, order=order)


def orders_lookup(*, connector: Connector, customer: Customer, agent: User | None = None, limit: int = 0) -> Outcome:
    """The customer's own orders, newest first (the shop is asked with their identity)."""
    shop, shopper = connector_build(connector=connector), shopper_for(customer=customer)
    orders, ms = _timed(
        lambda: shop.orders(shopper=shopper), _Who(connector, customer, agent, ""), Lookup.Operation.ORDERS
    )
    mine = [order for order in orders if order.owner == shopper.identity][: limit or None]
    result = Result.FOUND if mine else Result.NOT_FOUND
    _record(connector, customer, agent, Lookup.Operation.ORDERS, "", result, f"{len(mine)} orders", ms)
    return Outcome(result=result, orders=mine, order=mine[0] if mine else None)


def after_sale_start(*, connector: Connector, customer: Customer, agent: User, order_no: str, reason: str) -> str:
    """An agent opens an after-sales request in the shop for one of the customer's own orders."""
    found = order_lookup(connector=connector, customer=customer, order_no=order_no, agent=agent)
    if found.order is None:
        raise ConnectorError("not one of this customer's orders", kind="refused")
    shop, shopper = connector_build(connector=connector), shopper_for(customer=customer)
    request_id, ms = _timed(
        lambda: shop.after_sale_create(order_no=order_no, shopper=shopper, reason=reason),
        _Who(connector, customer, agent, order_no),
        Lookup.Operation.AFTER_SALE,
    )
    _record(connector, customer, agent, Lookup.Operation.AFTER_SALE, order_no, Result.CREATED, request_id, ms)
    return request_id
