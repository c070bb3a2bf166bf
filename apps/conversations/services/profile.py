"""Asking a channel who a new customer is: a display name, and WeChat's unionid.

A channel message rarely names its sender (WeChat gives only an OpenID or external_userid), and the
same person on an Official Account and a WeCom 客服 has two of those; WeChat's unionid is what they
share. So when a customer is first seen, the spine asks the channel's adapter
(``ChannelAdapter.customer_profile``) in a task enqueued on commit: never in the request that
received the message (an Official Account waits 5 s for its answer), never for channels that have
nothing to say (the hook not overridden: no task at all).
"""

import logging

from django.db import transaction

from apps.conversations.channels import CustomerProfile, PermanentDeliveryError, get_adapter, overrides_hook
from apps.conversations.models import Customer
from apps.conversations.signals import customer_identified
from apps.core.side_effects import enqueue_on_commit

logger = logging.getLogger(__name__)

_NAME_MAX = Customer._meta.get_field("display_name").max_length or 128


def customer_profile_request(*, customer: Customer) -> None:
    """A customer row was just created: ask its channel about them once this transaction commits."""
    if not overrides_hook(customer.channel, "customer_profile"):
        return
    from apps.conversations.tasks import customer_profile_fetch

    enqueue_on_commit(customer_profile_fetch, customer.pk)


def customer_profile_apply(*, customer_id: int) -> CustomerProfile | None:
    """Ask the channel, keep a name the customer has none of, announce a unionid. Idempotent.

    TransientDeliveryError goes up to the task (retried with backoff); a permanent refusal (unknown
    user, unsubscribed, not bound to an Open Platform account) is logged and the customer left as is.
    """
    customer = Customer.objects.filter(pk=customer_id).only("channel", "external_id").first()
    if customer is None:
        return None
    try:
        profile = get_adapter(customer.channel).customer_profile(external_id=customer.external_id)
    except PermanentDeliveryError as exc:
        logger.warning("customer %s: the %s channel gives no profile: %s", customer_id, customer.channel, exc)
        return None
    if profile is None:
        return None
    name = profile.display_name.strip()[:_NAME_MAX]
    if name:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=customer_id)
            # A name a message gave meanwhile (simulator, API, a later channel update) wins.
            if not locked.display_name:
                locked.display_name = name
                locked.save(update_fields=["display_name", "search_index", "updated_at"])
    unionid = profile.unionid.strip()
    if unionid:
        customer_identified.send(sender=Customer, customer_id=customer_id, unionid=unionid)
    return profile
