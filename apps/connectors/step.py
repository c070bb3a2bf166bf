"""The spine's shop step (DESK_SHOP_STEP): order, logistics and after-sales questions answered from
the shop's data with fixed templates, never from a model's guess.

Not an order question (or no connector enabled): None, the answerer takes it. The shop down, slow or
answering nonsense: a hand-over with DESK_CONNECTOR_HUMAN_NOTICE (once per window), and the question,
intent and masked order number in the audit details, so the agent knows what was asked.
"""

from typing import Any

from django.conf import settings

from apps.connectors import selectors, services
from apps.connectors.intent import Intent, intent_detect, mask_order_no
from apps.connectors.models import Connector
from apps.connectors.types import ConnectorError, Order
from apps.conversations.models import Conversation
from apps.conversations.pipeline import Answer, question_unmarked


def order_text(order: Order) -> str:
    """The customer's answer: status, then carrier and tracking number, latest event, expected delivery."""
    parts = [settings.DESK_CONNECTOR_ORDER_TEXT.format(order_no=order.order_no, title=order.title, status=order.status)]
    if order.carrier or order.tracking_no:
        parts.append(settings.DESK_CONNECTOR_SHIPPING_TEXT.format(carrier=order.carrier, tracking_no=order.tracking_no))
    if order.trail:
        latest = order.trail[0]
        parts.append(settings.DESK_CONNECTOR_EVENT_TEXT.format(time=latest.time, text=latest.text))
    if order.eta:
        parts.append(settings.DESK_CONNECTOR_ETA_TEXT.format(eta=order.eta))
    return "".join(parts).replace("（）", "")


class ConnectorStep:
    def answer(self, *, conversation_id: int, question: str) -> Answer | None:
        connector = selectors.connector_active()
        if connector is None:
            return None
        intent = intent_detect(text=question_unmarked(question), connector=connector)
        if intent is None:
            return None
        customer = Conversation.objects.select_related("customer").get(pk=conversation_id).customer
        meta: dict[str, Any] = {
            "source": "connector",
            "connector": connector.name,
            "intent": intent.kind,
            "order": mask_order_no(intent.order_no) if intent.order_no else "",
        }
        if not services.lookup_rate_take(connector=connector, customer=customer, order_no=intent.order_no):
            return Answer(text=settings.DESK_CONNECTOR_RATE_LIMITED_TEXT, meta={**meta, "result": "rate_limited"})
        try:
            return self._answer(connector=connector, customer=customer, intent=intent, meta=meta)
        except ConnectorError as exc:
            return Answer(
                text="",
                hand_over=f"shop connector {exc.kind}",
                notice=settings.DESK_CONNECTOR_HUMAN_NOTICE,
                meta={**meta, "result": "failed", "error": exc.kind},
            )

    def _answer(self, *, connector: Connector, customer: Any, intent: Intent, meta: dict[str, Any]) -> Answer:
        if intent.order_no:
            outcome = services.order_lookup(
                connector=connector,
                customer=customer,
                order_no=intent.order_no,
                phone_last4=intent.phone_last4,
                with_trail=intent.kind == "logistics",
            )
            if outcome.order is None:
                text = settings.DESK_CONNECTOR_NOT_FOUND_TEXT.format(order_no=intent.order_no)
                return Answer(text=text, meta={**meta, "result": outcome.result})
            order = outcome.order
        else:
            outcome = services.orders_lookup(connector=connector, customer=customer, limit=1)
            if outcome.order is None:
                return Answer(text=settings.DESK_CONNECTOR_NO_ORDERS_TEXT, meta={**meta, "result": outcome.result})
            order = outcome.order
            if intent.kind == "logistics":
                order = (
                    services.order_lookup(
                        connector=connector, customer=customer, order_no=order.order_no, with_trail=True
                    ).order
                    or order
                )
        text = order_text(order)
        meta = {**meta, "result": "found", "order": mask_order_no(order.order_no)}
        if intent.kind == "after_sale":
            # Returns and refunds need a person's judgement; the agent sees the order in the panel.
            notice = f"{text}{settings.DESK_CONNECTOR_AFTER_SALE_NOTICE}"
            return Answer(text="", hand_over="after-sales request", notice=notice, meta=meta)
        return Answer(text=text, meta=meta)
