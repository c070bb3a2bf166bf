"""Search over encrypted history: messages, internal notes and customer names.

The database holds only ciphertext and each row's keyed blind index (apps/core/blind_index.py).
A query becomes index terms; ``search_index @> terms`` (GIN) gives candidates, newest first, in
pages; each candidate is decrypted and kept only if the normalised phrase occurs in it, so a
phrase split over two messages never matches. Figures: bench/search.py, docs/benchmarks.md.
"""

import math
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from apps.console.models import Note
from apps.console.selectors import Segment, can_use_console, highlight
from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.selectors import account_filter
from apps.core.blind_index import Query, phrase_spans, query_parse
from apps.customers.models import CustomerNote
from apps.customers.selectors import label_filter

KINDS = ("message", "note", "customer", "customer_note")
_PAGE = 100  # candidates read per round trip
# How many of the newest ids _pages walks in id order, per id: the walk costs ~0.7 µs a row and
# stops after a page of matches; the GIN path costs ~3.5 µs per match, all matches older than the
# walk. The worst term (just too rare to fill a page in the walk) costs walk + page × N / walk,
# least at walk = sqrt(page × N × 3.5 / 0.7): 22,000 ids for 1M rows (bench/search.py).
_RECENT_FACTOR = 5
# Candidates confirmed per kind at most: bounds a query whose terms are everywhere but whose
# phrase is rare (say two common bigrams in the wrong order); what lies beyond is not searched.
_MAX_CANDIDATES = 4000
_SNIPPET_RADIUS = 40  # characters kept either side of the first hit


@dataclass(frozen=True)
class Hit:
    """One result. Open ``conversation_id`` at ``message_id`` (a message), or at the note."""

    kind: str  # "message" | "note" | "customer"
    conversation_id: int | None  # a customer hit: the customer's latest conversation, if any
    customer_id: int
    message_id: int | None
    note_id: int | None
    segments: list[Segment]  # the decrypted text around the hit, matches marked
    at: datetime


def search(
    *,
    query: str,
    user: AbstractBaseUser | AnonymousUser | None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    channel: str = "",
    account: str = "",
    agent_id: int | None = None,
    label_ids: Collection[int] = (),
    kinds: Collection[str] = KINDS,
    limit: int = 50,
) -> list[Hit]:
    """Up to ``limit`` hits, newest first, for console users only (PermissionDenied otherwise).

    ``query`` needs a word or two adjacent CJK characters (else no hits). Dates bound when the
    message or note was written (a customer: when their conversations had messages), ``date_to``
    exclusive; ``agent_id``: written by that agent or in a conversation assigned to them.
    ``label_ids``: the conversation or its customer carries one of these labels. ``account``:
    "<channel>:<key>", the customer wrote to that account (conversations.selectors.account_filter).
    """
    if not can_use_console(user=user):
        raise PermissionDenied
    parsed = query_parse(query)
    if not parsed.terms or limit <= 0:
        return []
    filters = _Filters(
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        agent_id=agent_id,
        label_ids=tuple(label_ids),
        account=account,
    )
    hits: list[Hit] = []
    if "message" in kinds:
        hits += _message_hits(parsed, filters, limit)
    if "note" in kinds:
        hits += _note_hits(parsed, filters, limit)
    if "customer" in kinds:
        hits += _customer_hits(parsed, filters, limit)
    if "customer_note" in kinds:
        hits += _customer_note_hits(parsed, filters, limit)
    hits.sort(key=lambda hit: hit.at, reverse=True)
    return hits[:limit]


@dataclass(frozen=True)
class _Filters:
    date_from: datetime | None
    date_to: datetime | None
    channel: str
    agent_id: int | None
    label_ids: tuple[int, ...] = ()
    account: str = ""

    def of_account(self, customer: str) -> Q:
        """The customer (at the path ``customer``; "" for Customer rows) wrote to the chosen account."""
        if not self.account:
            return Q()
        return account_filter(account=self.account, customer=customer)

    def labelled(self, *, conversation: dict[str, Any], person: dict[str, Any]) -> Q:
        return label_filter(self.label_ids, conversation=conversation, person=person)

    def dated(self, field: str) -> Q:
        q = Q()
        if self.date_from is not None:
            q &= Q(**{f"{field}__gte": self.date_from})
        if self.date_to is not None:
            q &= Q(**{f"{field}__lt": self.date_to})
        return q


def _message_hits(parsed: Query, f: _Filters, limit: int) -> list[Hit]:
    return _in_conversation_hits(Message.objects.all(), "message", "channel", parsed, f, limit)


def _note_hits(parsed: Query, f: _Filters, limit: int) -> list[Hit]:
    return _in_conversation_hits(Note.objects.all(), "note", "conversation__channel", parsed, f, limit)


def _in_conversation_hits(
    rows: QuerySet[Any], kind: str, channel_field: str, parsed: Query, f: _Filters, limit: int
) -> list[Hit]:
    """Messages and internal notes: rows of a conversation, with an author, a body and a time."""
    rows = rows.filter(f.dated("created_at"), search_index__contains=parsed.terms)
    labelled = f.labelled(
        conversation={"conversation_id": OuterRef("conversation_id")},
        person={"person__identities__customer_id": OuterRef("conversation__customer_id")},
    )
    rows = rows.filter(labelled, f.of_account("conversation__customer"))
    if f.channel:
        rows = rows.filter(**{channel_field: f.channel})
    if f.agent_id is not None:
        rows = rows.filter(Q(author_id=f.agent_id) | Q(conversation__assignee_id=f.agent_id))
    fields = ("id", "conversation_id", "conversation__customer_id", "body", "created_at")
    message = kind == "message"

    def hit(row: dict[str, Any], segments: list[Segment]) -> Hit:
        return Hit(kind, row["conversation_id"], row["conversation__customer_id"], row["id"] if message else None,
                   None if message else row["id"], segments, row["created_at"])  # fmt: skip

    return _confirmed(rows, fields, "body", parsed, limit, hit)


def _customer_hits(parsed: Query, f: _Filters, limit: int) -> list[Hit]:
    rows = Customer.objects.filter(f.of_account(""), search_index__contains=parsed.terms)
    # The customer carries the label, or one of their conversations does.
    rows = rows.filter(
        f.labelled(
            conversation={"conversation__customer_id": OuterRef("pk")},
            person={"person__identities__customer_id": OuterRef("pk")},
        )
    )
    if f.channel:
        rows = rows.filter(channel=f.channel)
    conversations = Conversation.objects.filter(customer=OuterRef("pk"))
    if f.date_from is not None or f.date_to is not None or f.agent_id is not None:
        scoped = conversations.filter(f.dated("last_message_at"))
        if f.agent_id is not None:
            scoped = scoped.filter(assignee_id=f.agent_id)
        rows = rows.filter(Exists(scoped))
    rows = rows.annotate(latest=Subquery(conversations.order_by("-id").values("id")[:1]))
    fields = ("id", "latest", "display_name", "updated_at")

    def hit(row: dict[str, Any], segments: list[Segment]) -> Hit:
        return Hit("customer", row["latest"], row["id"], None, None, segments, row["updated_at"])

    return _confirmed(rows, fields, "display_name", parsed, limit, hit)


def _customer_note_hits(parsed: Query, f: _Filters, limit: int) -> list[Hit]:
    """Notes on a customer (the person behind their channel identities): opened at the person's
    identity of the newest conversation."""
    rows = CustomerNote.objects.filter(f.dated("created_at"), search_index__contains=parsed.terms)
    conversations = Conversation.objects.filter(customer__identity__person=OuterRef("person_id")).order_by("-id")
    if f.channel or f.account:
        conversations = conversations.filter(f.of_account("customer"))
        if f.channel:
            conversations = conversations.filter(channel=f.channel)
        rows = rows.filter(Exists(conversations))
    if f.agent_id is not None:
        rows = rows.filter(Q(author_id=f.agent_id) | Exists(conversations.filter(assignee_id=f.agent_id)))
    rows = rows.filter(
        f.labelled(
            conversation={"conversation__customer__identity__person": OuterRef("person_id")},
            person={"person_id": OuterRef("person_id")},
        )
    )
    rows = rows.annotate(
        latest=Subquery(conversations.values("id")[:1]),
        latest_customer=Subquery(conversations.values("customer_id")[:1]),
    )
    fields = ("id", "latest", "latest_customer", "body", "created_at")

    def hit(row: dict[str, Any], segments: list[Segment]) -> Hit:
        return Hit("customer_note", row["latest"], row["latest_customer"] or 0, None, row["id"], segments,
                   row["created_at"])  # fmt: skip

    return _confirmed(rows, fields, "body", parsed, limit, hit)


def _confirmed(
    rows: QuerySet[Any],
    fields: Iterable[str],
    text_field: str,
    parsed: Query,
    limit: int,
    make: Callable[[dict[str, Any], list[Segment]], Hit],
) -> list[Hit]:
    """Walk the candidates newest first, a page at a time, keeping those the decrypted text confirms."""
    hits: list[Hit] = []
    read = 0
    for page in _pages(rows, fields):
        for row in page:
            text = row[text_field] or ""
            if spans := phrase_spans(text, parsed):
                hits.append(make(row, snippet(text, spans)))
                if len(hits) == limit:
                    return hits
        read += len(page)
        if read >= _MAX_CANDIDATES:
            break
    return hits


def _pages(rows: QuerySet[Any], fields: Iterable[str]) -> Iterator[list[dict[str, Any]]]:
    """Candidate pages, newest first: the newest ids in id order, then the older ones by the GIN index.

    Postgres estimates a multi-term ``@>`` as if the terms were independent; a phrase's bigrams
    never are, so it would take the GIN bitmap for "优惠券用不了" (33,000 of 1M rows), fetch every
    match and sort them: 160 ms. Walking the newest rows backwards in id order stops after a page
    of matches when they are common (the bitmap is off for that walk); rarer ones leave the walk
    with few, and the GIN index then finds the older ones cheaply, because they are few.
    """
    newest = rows.model.objects.order_by("-id").values_list("id", flat=True).first()
    if newest is None:
        return
    floor = newest - math.isqrt(_PAGE * newest * _RECENT_FACTOR)
    before: int | None = None
    for recent in (True, False):
        while True:
            page_rows = rows.filter(id__gt=floor) if recent else rows.filter(id__lte=floor)
            if before is not None:
                page_rows = page_rows.filter(id__lt=before)
            query = page_rows.order_by("-id").values(*fields)[:_PAGE]
            if recent:
                with _bitmap_off():
                    page = list(query)
            else:
                page = list(query)
            if page:
                yield page
            if len(page) < _PAGE:
                break
            before = page[-1]["id"]


@contextmanager
def _bitmap_off() -> Iterator[None]:
    # set_config(..., true) lasts to the end of the transaction: put the caller's value back.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_bitmapscan'), set_config('enable_bitmapscan', 'off', true)")
        (previous, _) = cursor.fetchone()
        try:
            yield
        finally:
            cursor.execute("SELECT set_config('enable_bitmapscan', %s, true)", [previous])


def snippet(text: str, spans: list[tuple[int, int]], radius: int = _SNIPPET_RADIUS) -> list[Segment]:
    """The text around the first match, every match inside it marked; "…" where it was cut."""
    start = max(0, spans[0][0] - radius)
    end = min(len(text), spans[0][1] + radius)
    shown = [{"span": [s - start, e - start]} for s, e in spans if s >= start and e <= end]
    segments = highlight(text[start:end], shown)
    if start > 0:
        segments.insert(0, Segment("…", hit=False))
    if end < len(text):
        segments.append(Segment("…", hit=False))
    return segments
