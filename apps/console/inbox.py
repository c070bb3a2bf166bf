"""Reads of the agent inbox: the conversation list (tabs, filters, unread counts), what the
browser watches for notifications, and the customer panel.

Each read costs a fixed number of queries whatever the number of rows (tests count them).
Unread is per agent: the customer's messages after the agent's ReadMarker for the conversation.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.console.models import AgentPreference, ReadMarker
from apps.console.selectors import SlaView, sla_view
from apps.conversations import selectors as conversation_selectors
from apps.conversations.models import Conversation, Customer, Message
from apps.core import clock
from apps.customers import selectors as customer_selectors
from apps.customers.selectors import LabelRow
from apps.routing import sla
from apps.routing.models import QueueTicket, Team

Mode = Conversation.Mode
TABS = ("mine", "unassigned", "queued", "all")
SLA_FILTERS = ("ok", "warning", "breached")
PREVIEW_CHARS = 80


@dataclass(frozen=True)
class InboxFilters:
    tab: str = "mine"
    channel: str = ""
    team: int = 0
    sla: str = ""
    # The list matches customer names with it; the search endpoint (inbox_views.inbox_search) runs
    # it through apps/console/search.py (message text, notes: encrypted, so a blind index).
    q: str = ""
    label: int = 0  # the conversation or its customer carries it
    # "<channel>:<key>": the customer wrote to that account of the channel (conversations.selectors).
    account: str = ""
    # Search only: when the message or note was written (both days included), and by whom.
    date_from: date | None = None
    date_to: date | None = None
    agent: int = 0

    @classmethod
    def parse(cls, data: Any) -> "InboxFilters":
        tab = data.get("tab", "mine")
        team = str(data.get("team", "") or "")
        label = str(data.get("label", "") or "")
        agent = str(data.get("agent", "") or "")
        sla_state = data.get("sla", "")
        return cls(
            tab=tab if tab in TABS else "mine",
            channel=str(data.get("channel", "") or "")[:32],
            team=int(team) if team.isdigit() else 0,
            sla=sla_state if sla_state in SLA_FILTERS else "",
            q=str(data.get("q", "") or "").strip()[:100],
            label=int(label) if label.isdigit() else 0,
            account=str(data.get("account", "") or "")[:200],
            date_from=_day(data.get("date_from")),
            date_to=_day(data.get("date_to")),
            agent=int(agent) if agent.isdigit() else 0,
        )


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value or "")[:10])
    except ValueError:
        return None


@dataclass
class InboxRow:
    conversation: Conversation
    unread: int
    team: str
    preview: str = ""
    preview_direction: str = ""
    sla: SlaView | None = None
    labels: list[LabelRow] = field(default_factory=list)  # the conversation's
    customer_labels: list[LabelRow] = field(default_factory=list)  # its customer's (the person's)


@dataclass
class Inbox:
    rows: list[InboxRow]
    counts: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)


def _open_ticket() -> QuerySet[QueueTicket]:
    return QueueTicket.objects.filter(conversation_id=OuterRef("pk"), ended_at__isnull=True)


def _filtered(filters: InboxFilters) -> QuerySet[Conversation]:
    """Open conversations matching every filter but the tab."""
    rows = Conversation.objects.exclude(mode=Mode.CLOSED)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.team:
        rows = rows.filter(Exists(_open_ticket().filter(team_id=filters.team)))
    if filters.account:
        rows = rows.filter(conversation_selectors.account_filter(account=filters.account))
    if filters.q:
        # Names are stored in clear; message text is encrypted (search over it: apps/console/search.py).
        rows = rows.filter(Q(customer__display_name__icontains=filters.q) | Q(customer__external_id=filters.q))
    if filters.label:
        rows = rows.filter(
            customer_selectors.label_filter(
                [filters.label],
                conversation={"conversation_id": OuterRef("pk")},
                person={"person__identities__customer_id": OuterRef("customer_id")},
            )
        )
    return rows


def _tab(rows: QuerySet[Conversation], tab: str, user_id: int) -> QuerySet[Conversation]:
    if tab == "mine":
        return rows.filter(assignee_id=user_id)
    if tab == "unassigned":
        return rows.filter(assignee__isnull=True)
    if tab == "queued":
        return rows.filter(mode=Mode.QUEUED)
    return rows


def _with_unread(rows: QuerySet[Conversation], user_id: int) -> QuerySet[Conversation]:
    marker = ReadMarker.objects.filter(user_id=user_id, conversation_id=OuterRef("pk")).values("last_read_message_id")
    return rows.annotate(
        read_upto=Coalesce(Subquery(marker[:1], output_field=IntegerField()), Value(0)),
    ).annotate(
        unread=Count(
            "messages", filter=Q(messages__direction=Message.Direction.INBOUND, messages__id__gt=F("read_upto"))
        )
    )


def tab_counts(*, user_id: int, filters: InboxFilters) -> dict[str, int]:
    """How many conversations each tab holds under the other filters: one query."""
    return _filtered(filters).aggregate(
        mine=Count("id", filter=Q(assignee_id=user_id)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        queued=Count("id", filter=Q(mode=Mode.QUEUED)),
        all=Count("id"),
    )


def inbox_rows(*, user_id: int, filters: InboxFilters, limit: int = 100) -> list[InboxRow]:
    """The list: newest activity first, waiting (queued) ones on top; six queries."""
    team = _open_ticket().order_by("-queued_at").values("team__name")[:1]
    rows = (
        _with_unread(_tab(_filtered(filters), filters.tab, user_id), user_id)
        .annotate(team_name=Subquery(team))
        .select_related("customer", "assignee")
        .order_by(
            F("mode").desc(),  # backwards: "queued", "human", "bot" (waiting for a person first)
            F("last_message_at").desc(nulls_last=True),
            "-pk",
        )
    )
    found = list(rows[: limit * 2 if filters.sla else limit])
    now = clock.now()
    clocks = sla.sla_states(
        conversation_ids=[c.pk for c in found if c.mode in (Mode.QUEUED, Mode.HUMAN)],
        now=now,
    )
    result = [
        InboxRow(
            conversation=c,
            unread=c.unread,  # type: ignore[attr-defined]  # annotated above
            team=c.team_name or "",
            sla=sla_view(clocks.get(c.pk), now=now),
        )
        for c in found
    ]
    if filters.sla:
        result = [row for row in result if row.sla is not None and row.sla.status == filters.sla][:limit]
    _attach_previews(result)
    _attach_labels(result)
    return result


def _attach_previews(rows: list[InboxRow]) -> None:
    """The latest message of each row: one query (DISTINCT ON the message index)."""
    ids = [row.conversation.pk for row in rows]
    if not ids:
        return
    latest = (
        Message.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "-id")
        .distinct("conversation_id")
        .only("id", "conversation_id", "body", "direction")
    )
    by_conversation = {m.conversation_id: m for m in latest}
    for row in rows:
        message = by_conversation.get(row.conversation.pk)
        if message is not None:
            text = " ".join(message.body.split())
            row.preview = text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")
            row.preview_direction = message.direction


def _attach_labels(rows: list[InboxRow]) -> None:
    """The conversations' labels and their customers' (through the person): two queries."""
    if not rows:
        return
    on_conversations = customer_selectors.conversation_labels(row.conversation.pk for row in rows)
    on_customers = customer_selectors.customer_labels(row.conversation.customer_id for row in rows)
    for row in rows:
        row.labels = on_conversations.get(row.conversation.pk, [])
        shown = {label.id for label in row.labels}
        row.customer_labels = [lb for lb in on_customers.get(row.conversation.customer_id, []) if lb.id not in shown]


def inbox(*, user_id: int, filters: InboxFilters) -> Inbox:
    return Inbox(rows=inbox_rows(user_id=user_id, filters=filters), counts=tab_counts(user_id=user_id, filters=filters))


@dataclass(frozen=True)
class Watch:
    """What the browser compares between rereads to notify the agent (whatever tab is shown)."""

    mine: dict[int, int]  # my open conversations -> their unread count
    names: dict[int, str]  # ... -> their customer's name (what a notification says)
    team_queue: int  # waiting in my teams' queues (and the queue no team owns)

    @property
    def unread(self) -> int:
        return sum(self.mine.values())


def watch(*, user_id: int) -> Watch:
    """Two queries."""
    mine = _with_unread(Conversation.objects.exclude(mode=Mode.CLOSED).filter(assignee_id=user_id), user_id)
    waiting = QueueTicket.objects.filter(assigned_at__isnull=True, ended_at__isnull=True).filter(
        Q(team__members__id=user_id) | Q(team__isnull=True)
    )
    # "unread" is _with_unread's annotation, which the stubs cannot follow through the helper.
    found = list(mine.values_list("pk", "unread", "customer__display_name", "customer__external_id"))  # type: ignore[misc]
    return Watch(
        mine={pk: unread for pk, unread, _, _ in found},
        names={pk: name or external for pk, _, name, external in found},
        team_queue=waiting.values("pk").distinct().count(),
    )


def filter_choices() -> dict[str, list[Any]]:
    """The filters' options: the channels in use, the teams, the labels (three queries) and the
    channels' accounts (a query per channel that has some)."""
    labels = dict(Conversation._meta.get_field("channel").choices or [])
    channels = Conversation.objects.exclude(mode=Mode.CLOSED).values_list("channel", flat=True).distinct()
    return {
        "channels": [(c, str(labels.get(c, c))) for c in sorted(set(channels))],
        "teams": [(t.pk, t.name) for t in Team.objects.order_by("name")],
        "labels": [(lb.id, lb.name) for lb in customer_selectors.labels()],
        "accounts": conversation_selectors.channel_accounts(),
    }


def preferences(*, user_id: int) -> dict[str, bool]:
    found = AgentPreference.objects.filter(user_id=user_id).first()
    default = AgentPreference()
    return {name: bool(getattr(found or default, name)) for name in AgentPreference.SWITCHES}


@dataclass(frozen=True)
class CustomerPanel:
    """What the right-hand panel shows before customer.js draws the profile from apps.customers."""

    customer: Customer
    first_seen: datetime
    conversations: list[Conversation]  # this customer's others, newest first


def customer_panel(*, conversation: Conversation, limit: int = 10) -> CustomerPanel:
    """One query (the conversation comes with its customer)."""
    customer = conversation.customer
    others = list(Conversation.objects.filter(customer=customer).exclude(pk=conversation.pk).order_by("-pk")[:limit])
    return CustomerPanel(customer=customer, first_seen=customer.created_at, conversations=others)
