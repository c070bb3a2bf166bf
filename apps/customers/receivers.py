"""What the customers app does when the spine announces something about a customer."""

import logging
from typing import Any

from django.core.exceptions import ValidationError

from apps.customers.services import identity_link_unionid

logger = logging.getLogger(__name__)


def customer_identified_link(sender: object, *, customer_id: int, unionid: str, **kwargs: Any) -> None:
    """The channel reported WeChat's unionid: one Person for every identity that shares it.

    identity_link_unionid is idempotent, so a retried profile task links nothing twice."""
    try:
        identity_link_unionid(customer_id=customer_id, unionid=unionid)
    except ValidationError:
        logger.warning("customers: customer %s: the channel reported a malformed unionid; not linked", customer_id)
