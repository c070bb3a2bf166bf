"""Reads of customer profiles and labels, for the inbox (views.py) and other apps.

Each read costs a fixed number of queries whatever the customer's history: the inbox shows labels
on every row of its list, and a profile gathers several identities' conversations.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.db.models import Count, Exists, Q, Window

from apps.conversations.models import Conversation, Customer, Satisfaction
from apps.customers.models import ConversationLabel, CustomerLabel, CustomerNote, Identity, Label, Person, PersonMerge

CONSOLE_PERMISSION = "console.use_console"  # the console's own check (apps.console.selectors), by name
MERGE_PERMISSION = "customers.merge_person"
TIMELINE_MAX = 200  # conversations on one profile; older ones are counted, not listed
FIND_MAX = 20


def can_serve(*, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Whether ``user`` may use the console, hence the profiles it shows (same rule as the console)."""
    if not isinstance(user, PermissionsMixin) or not user.is_authenticated or not user.is_active:
        return False
    return bool(getattr(user, "is_staff", False)) and user.has_perm(CONSOLE_PERMISSION)


@dataclass(frozen=True)
class LabelRow:
    id: int
    name: str
    colour: str
    description: str = ""


@dataclass(frozen=True)
class IdentityRow:
    id: int
    customer_id: int
    channel: str
    channel_label: str
    external_id: str
    display_name: str
    linked_by: str
    linked_by_label: str
    linked_by_user: str  # the agent who merged it in ("" when a channel or WeChat's unionid linked it)
    linked_at: datetime
    first_seen: datetime
    can_unmerge: bool  # brought here by an agent's merge that can be undone


@dataclass(frozen=True)
class ConversationRow:
    id: int
    customer_id: int
    channel: str
    channel_label: str
    mode: str
    mode_label: str
    created_at: datetime
    closed_at: datetime | None
    end_reason: str
    end_reason_label: str
    message_count: int
    last_message_at: datetime | None
    assignee: str


@dataclass(frozen=True)
class NoteRow:
    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class SatisfactionRow:
    conversation_id: int
    channel: str
    score: int
    comment: str
    agent: str
    answered_at: datetime | None


@dataclass(frozen=True)
class Profile:
    person_id: int
    name: str
    unionid_linked: bool
    first_seen: datetime
    identities: list[IdentityRow]
    labels: list[LabelRow]
    notes: list[NoteRow]
    conversations: list[ConversationRow]  # newest first, at most TIMELINE_MAX
    conversations_total: int
    satisfaction: list[SatisfactionRow]  # newest first

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def labels() -> list[LabelRow]:
    return [LabelRow(pk, name, colour, description) for pk, name, colour, description in _label_values()]


def _label_values() -> Iterable[tuple[int, str, str, str]]:
    return Label.objects.order_by("name").values_list("pk", "name", "colour", "description")


def conversation_labels(conversation_ids: Iterable[int]) -> dict[int, list[LabelRow]]:
    """Labels per conversation id (one query; ids without labels map to an empty list)."""
    ids = list(conversation_ids)
    found: dict[int, list[LabelRow]] = {pk: [] for pk in ids}
    rows = (
        ConversationLabel.objects.filter(conversation_id__in=ids)
        .order_by("label__name")
        .values_list("conversation_id", "label_id", "label__name", "label__colour")
    )
    for conversation_id, pk, name, colour in rows:
        found[conversation_id].append(LabelRow(pk, name, colour))
    return found


def label_filter(label_ids: Iterable[int], *, conversation: dict[str, Any], person: dict[str, Any]) -> Q:
    """A filter for rows whose conversation or customer carries one of ``label_ids``: ``conversation``
    are the ConversationLabel lookups that tie a label to the row (e.g. {"conversation_id":
    OuterRef("pk")}), ``person`` the CustomerLabel lookups through the person. No ids: no filter."""
    ids = list(label_ids)
    if not ids:
        return Q()
    on_conversation = ConversationLabel.objects.filter(label_id__in=ids, **conversation)
    on_person = CustomerLabel.objects.filter(label_id__in=ids, **person)
    return Q(Exists(on_conversation)) | Q(Exists(on_person))


def customer_labels(customer_ids: Iterable[int]) -> dict[int, list[LabelRow]]:
    """Labels of the person behind each channel identity, per customer id (one query; customers
    without labels map to an empty list)."""
    ids = set(customer_ids)
    found: dict[int, list[LabelRow]] = {pk: [] for pk in ids}
    rows = (
        CustomerLabel.objects.filter(person__identities__customer_id__in=ids)
        .order_by("label__name")
        .values_list("person__identities__customer_id", "label_id", "label__name", "label__colour")
    )
    for customer_id, pk, name, colour in rows:
        found[customer_id].append(LabelRow(pk, name, colour))
    return found


def person_labels(person_id: int) -> list[LabelRow]:
    rows = CustomerLabel.objects.filter(person_id=person_id).order_by("label__name")
    return [
        LabelRow(pk, name, colour) for pk, name, colour in rows.values_list("label_id", "label__name", "label__colour")
    ]


def customer_label_ids(*, customer_id: int) -> set[int]:
    """The labels of the person behind this channel identity (none before anyone labelled them)."""
    return set(
        CustomerLabel.objects.filter(person__identities__customer_id=customer_id).values_list("label_id", flat=True)
    )


def person_id_of(customer_id: int) -> int | None:
    """The customer's Person, if one was made yet (services.person_for makes it)."""
    return Identity.objects.filter(customer_id=customer_id).values_list("person_id", flat=True).first()


def _username(user: Any) -> str:
    return user.get_username() if user is not None else ""


def profile(*, person_id: int) -> Profile:
    """Everything the inbox shows about one person, in six queries (Person.DoesNotExist if none).

    Take ``person_id`` from services.person_for(customer_id=...): the first look at a customer
    creates their Person, which a read should not do.
    """
    identities = list(
        Identity.objects.filter(person_id=person_id)
        .select_related("person", "customer", "merge", "linked_by_user")
        .order_by("customer__created_at", "pk")
    )
    if not identities:
        raise Person.DoesNotExist(f"no customer profile #{person_id}")
    person = identities[0].person
    customers = [identity.customer for identity in identities]
    customer_ids = [customer.pk for customer in customers]
    newest = max(customers, key=lambda c: (c.updated_at, c.pk))
    conversations = (
        Conversation.objects.filter(customer_id__in=customer_ids)
        .select_related("assignee")
        # The full count beside the capped page, in the same query.
        .annotate(message_count=Count("messages"), total=Window(Count("pk")))
        .order_by("-created_at", "-pk")[:TIMELINE_MAX]
    )
    timeline = list(conversations)
    notes = CustomerNote.objects.filter(person_id=person_id).select_related("author").order_by("-created_at", "-pk")
    ratings = (
        Satisfaction.objects.filter(conversation__customer_id__in=customer_ids, score__isnull=False)
        .select_related("agent")
        .order_by("-answered_at", "-pk")
    )
    return Profile(
        person_id=person.pk,
        name=person.display_name or newest.display_name or newest.external_id,
        unionid_linked=bool(person.unionid),
        first_seen=min(customer.created_at for customer in customers),
        identities=[_identity_row(identity) for identity in identities],
        labels=person_labels(person_id),
        notes=[NoteRow(n.pk, _username(n.author), n.body, n.created_at) for n in notes],
        conversations=[_conversation_row(c) for c in timeline],
        conversations_total=timeline[0].total if timeline else 0,
        satisfaction=[
            SatisfactionRow(r.conversation_id, r.channel, r.score or 0, r.comment, _username(r.agent), r.answered_at)
            for r in ratings
        ],
    )


def _identity_row(identity: Identity) -> IdentityRow:
    customer: Customer = identity.customer
    merge: PersonMerge | None = identity.merge
    return IdentityRow(
        id=identity.pk,
        customer_id=customer.pk,
        channel=customer.channel,
        channel_label=str(customer.get_channel_display()),
        external_id=customer.external_id,
        display_name=customer.display_name,
        linked_by=identity.linked_by,
        linked_by_label=str(identity.get_linked_by_display()),
        linked_by_user=_username(identity.linked_by_user),
        linked_at=identity.linked_at,
        first_seen=customer.created_at,
        can_unmerge=merge is not None and merge.reason == PersonMerge.Reason.AGENT and merge.undone_at is None,
    )


def _conversation_row(conversation: Conversation) -> ConversationRow:
    return ConversationRow(
        id=conversation.pk,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        channel_label=str(conversation.get_channel_display()),
        mode=conversation.mode,
        mode_label=str(conversation.get_mode_display()),
        created_at=conversation.created_at,
        closed_at=conversation.closed_at,
        end_reason=conversation.end_reason,
        end_reason_label=str(conversation.get_end_reason_display()) if conversation.end_reason else "",
        message_count=conversation.message_count,  # type: ignore[attr-defined]
        last_message_at=conversation.last_message_at,
        assignee=_username(conversation.assignee),
    )


@dataclass(frozen=True)
class FoundCustomer:
    customer_id: int
    person_id: int | None  # None: nobody looked at this customer yet (no Person made)
    channel: str
    channel_label: str
    external_id: str
    display_name: str


def find(*, query: str, exclude_customer_id: int | None = None) -> list[FoundCustomer]:
    """Customers whose display name contains ``query`` or whose channel id is ``query``: merge candidates
    for ``exclude_customer_id``, whose own identities are left out.

    Display names are stored in clear beside the encrypted message text (docs/security.md), so a
    plain ``icontains`` works; if they are ever encrypted this becomes a blind-index lookup.
    """
    query = query.strip()
    if not query:
        return []
    rows = (
        Customer.objects.filter(Q(display_name__icontains=query) | Q(external_id=query))
        .select_related("identity")
        .order_by("-updated_at", "-pk")
    )
    if exclude_customer_id is not None:
        rows = rows.exclude(pk=exclude_customer_id)
        if (person_id := person_id_of(exclude_customer_id)) is not None:
            rows = rows.exclude(identity__person_id=person_id)
    found = []
    for customer in rows[:FIND_MAX]:
        identity = getattr(customer, "identity", None)
        found.append(
            FoundCustomer(
                customer_id=customer.pk,
                person_id=identity.person_id if identity is not None else None,
                channel=customer.channel,
                channel_label=str(customer.get_channel_display()),
                external_id=customer.external_id,
                display_name=customer.display_name,
            )
        )
    return found
