"""The intent step: is a customer message about an order, its delivery or an after-sales case?

Pure regular expressions (the admin edits them on the Connector row), so a message costs microseconds
and no model; bench/connectors.py measures precision and recall on peers/order_intent_dataset.py.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from apps.connectors.models import Connector

Kind = Literal["order", "logistics", "after_sale"]
_PHONE_LAST4 = re.compile(r"(?:尾号|后四位|后4位|手机号?后?四位)\D{0,3}(\d{4})(?!\d)")


@dataclass(frozen=True)
class Intent:
    kind: Kind
    order_no: str = ""
    phone_last4: str = ""


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE) if pattern else None
    except re.error:
        return None  # an admin's broken pattern turns that intent off rather than every answer


def _hit(pattern: str, text: str) -> bool:
    compiled = _compiled(pattern)
    return bool(compiled and compiled.search(text))


def intent_detect(*, text: str, connector: Connector) -> Intent | None:
    numbers = _compiled(connector.order_number_regex)
    found = numbers.search(text.upper()) if numbers else None
    order_no = found.group(0) if found else ""
    last4 = _PHONE_LAST4.search(text)
    phone_last4 = last4.group(1) if last4 else ""
    kind: Kind | None = None
    if _hit(connector.after_sale_intent_regex, text):
        kind = "after_sale"
    elif _hit(connector.logistics_intent_regex, text):
        kind = "logistics"
    elif order_no or _hit(connector.order_intent_regex, text):
        kind = "order"
    return Intent(kind=kind, order_no=order_no, phone_last4=phone_last4) if kind else None


def mask_order_no(order_no: str) -> str:
    """For logs: the first 4 and last 3 characters, enough to tell orders apart in one incident."""
    if len(order_no) <= 7:
        return "*" * len(order_no)
    return f"{order_no[:4]}{'*' * (len(order_no) - 7)}{order_no[-3:]}"
