"""The inbox's search box over message text, internal notes, customer notes and customer names.

apps/console/search.py does the searching (blind index, then the decrypted text confirms the
phrase); this adds what the list pane shows of each hit (the customer's name, the channel) in one
more query, and turns the list's filters into search.py's arguments.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from apps.console import search
from apps.console.inbox import InboxFilters
from apps.conversations.models import Conversation, Customer
from apps.core.blind_index import query_parse

LIMIT = 50


@dataclass(frozen=True)
class InboxHit:
    hit: search.Hit
    customer: str
    channel: str
    channel_label: str


@dataclass(frozen=True)
class InboxSearch:
    hits: list[InboxHit] = field(default_factory=list)
    too_short: bool = False  # no Latin word, no two adjacent CJK characters: nothing to look up


def _start_of(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def inbox_search(*, user: AbstractBaseUser | AnonymousUser, filters: InboxFilters, limit: int = LIMIT) -> InboxSearch:
    """Hits for ``filters.q`` under the list's channel, account and label filters and the search's own
    (dates, both days included; agent). PermissionDenied for users outside the console."""
    if not query_parse(filters.q).terms:
        search.search(query="", user=user)  # the permission check alone (an empty query finds nothing)
        return InboxSearch(too_short=True)
    hits = search.search(
        query=filters.q,
        user=user,
        date_from=_start_of(filters.date_from),
        date_to=_start_of(filters.date_to + timedelta(days=1) if filters.date_to else None),
        channel=filters.channel,
        account=filters.account,
        agent_id=filters.agent or None,
        label_ids=(filters.label,) if filters.label else (),
        limit=limit,
    )
    channels = dict(Conversation._meta.get_field("channel").choices or [])
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in={h.customer_id for h in hits}).only(
            "display_name", "external_id", "channel"
        )
    }
    found = []
    for hit in hits:
        customer = customers.get(hit.customer_id)
        channel = customer.channel if customer is not None else ""
        found.append(
            InboxHit(
                hit=hit,
                customer=str(customer) if customer is not None else "",
                channel=channel,
                channel_label=str(channels.get(channel, channel)),
            )
        )
    return InboxSearch(hits=found)
