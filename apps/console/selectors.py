"""Reads of the agent console: the review queue, live conversations and one conversation's timeline.

Each page costs a fixed number of queries whatever the number of rows (tests count them).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Permission, PermissionsMixin
from django.db.models import Count, F, Min, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.console.models import CannedResponse, Note
from apps.conversations.channels import PermanentDeliveryError, get_adapter
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.core import clock
from apps.moderation.models import Category, Flag, TermAction
from apps.routing import sla

CONSOLE_PERMISSION = "console.use_console"
AGE_FILTERS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
_CONTEXT_WINDOW = 20  # latest messages per conversation fetched for the queue's context lines
_CONTEXT_BEFORE = 3


def can_use_console(*, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if not isinstance(user, PermissionsMixin) or not user.is_authenticated or not user.is_active:
        return False
    return bool(getattr(user, "is_staff", False)) and user.has_perm(CONSOLE_PERMISSION)


@dataclass(frozen=True)
class Segment:
    text: str
    hit: bool


@dataclass
class QueueRow:
    flag: Flag
    segments: list[Segment]
    terms: list[dict[str, Any]]
    semantic: list[dict[str, Any]]
    categories: list[str]
    severity: int
    verdict_label: str = ""
    context: list[Message] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)  # the flagged message's files (views)


def highlight(text: str, hits: list[dict[str, Any]]) -> list[Segment]:
    """Split the checked text into plain and hit segments; overlapping spans merge."""
    spans = sorted(
        (max(0, int(h["span"][0])), min(len(text), int(h["span"][1])))
        for h in hits
        if isinstance(h.get("span"), list) and len(h["span"]) == 2
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    segments: list[Segment] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            segments.append(Segment(text[cursor:start], hit=False))
        segments.append(Segment(text[start:end], hit=True))
        cursor = end
    if cursor < len(text):
        segments.append(Segment(text[cursor:], hit=False))
    return segments


def review_queue(
    *, category: str = "", severity_min: int | None = None, age: str = "", limit: int = 100
) -> list[QueueRow]:
    """Pending flags, newest first, each with its highlighted text, evidence and context."""
    flags = (
        Flag.objects.filter(status=Flag.Status.PENDING)
        .select_related("message__conversation__customer")
        .prefetch_related("message__attachments")  # a flagged image's thumbnail
    )
    if category:
        flags = flags.filter(
            Q(evidence__hits__contains=[{"category": category}])
            | Q(evidence__semantic__contains=[{"category": category}])
        )
    if severity_min:
        severe = Q()
        for level in range(severity_min, 6):
            severe |= Q(evidence__hits__contains=[{"severity": level}])
        flags = flags.filter(severe)
    if age in AGE_FILTERS:
        flags = flags.filter(created_at__gte=timezone.now() - AGE_FILTERS[age])
    rows = [_queue_row(flag) for flag in flags.order_by("-created_at", "-id")[:limit]]
    _attach_context(rows)
    return rows


# Evidence is stored as codes; staff read the labels (translated with the rest of the UI).
_VERDICT_LABELS = {"allow": _("allowed"), "mask": _("masked"), "block": _("blocked"), "review": _("for review")}


def _labelled(item: dict[str, Any]) -> dict[str, Any]:
    category, action = str(item.get("category", "")), str(item.get("action", ""))
    return {
        **item,
        "category_label": Category(category).label if category in Category.values else category,
        "action_label": TermAction(action).label if action in TermAction.values else action,
    }


def _queue_row(flag: Flag) -> QueueRow:
    evidence = flag.evidence or {}
    hits = [_labelled(h) for h in evidence.get("hits", []) if isinstance(h, dict)]
    semantic = [_labelled(s) for s in evidence.get("semantic", []) if isinstance(s, dict)]
    categories = sorted({str(x.get("category", "")) for x in [*hits, *semantic]} - {""})
    return QueueRow(
        flag=flag,
        segments=highlight(flag.text, hits),
        terms=hits,
        semantic=semantic,
        categories=categories,
        severity=max((int(h.get("severity", 0)) for h in hits), default=0),
        verdict_label=str(_VERDICT_LABELS.get(flag.verdict, flag.verdict)),
    )


def _attach_context(rows: list[QueueRow]) -> None:
    conversation_ids = {row.flag.message.conversation_id for row in rows if row.flag.message is not None}
    if not conversation_ids:
        return
    latest = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .annotate(rank=Window(RowNumber(), partition_by=F("conversation_id"), order_by=F("id").desc()))
        .filter(rank__lte=_CONTEXT_WINDOW)
        .order_by("id")
    )
    by_conversation: dict[int, list[Message]] = {}
    for message in latest:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    for row in rows:
        flagged = row.flag.message
        if flagged is None:
            continue
        messages = by_conversation.get(flagged.conversation_id, [])
        before = [m for m in messages if m.pk < flagged.pk][-_CONTEXT_BEFORE:]
        after = [m for m in messages if m.pk > flagged.pk][:1]
        row.context = [*before, flagged, *after]


def review_queue_count() -> int:
    return Flag.objects.filter(status=Flag.Status.PENDING).count()


@dataclass(frozen=True)
class SlaView:
    """A conversation's running SLA clock as the console shows it; console.js counts ``left`` down."""

    kind: str
    status: str
    left: int  # seconds to the target when read (negative: overdue)
    warn: int
    label: str


def sla_view(state: sla.SlaState | None, *, now: datetime) -> SlaView | None:
    left = state.seconds_left(now) if state is not None else None
    if state is None or left is None:
        return None
    minutes = max(1, math.ceil(abs(left) / 60))
    # console.js renders the same strings as the clock ticks (the page's data-t-sla-* attributes).
    if left < 0:
        label = gettext("Overdue by {n} min")
    elif state.kind == sla.Kind.FIRST:
        label = gettext("First response due in {n} min")
    else:
        label = gettext("Reply due in {n} min")
    return SlaView(kind=state.kind, status=state.status, left=left, warn=state.warn_s, label=label.format(n=minutes))


def conversation_sla(*, conversation_id: int) -> SlaView | None:
    now = clock.now()
    return sla_view(sla.sla_state(conversation_id=conversation_id, now=now), now=now)


@dataclass(frozen=True)
class ConversationRow:
    conversation: Conversation
    unread: int
    waiting_since: datetime | None
    sla: SlaView | None = None


def _waiting() -> Q:
    return Q(messages__direction=Message.Direction.INBOUND, messages__status=Message.Status.HANDED_OVER)


def live_conversations(*, mode: str = "", limit: int = 200) -> list[ConversationRow]:
    """Open conversations (or one mode's), those waiting longest for a human first."""
    rows = Conversation.objects.select_related("customer", "assignee").annotate(
        unread=Count("messages", filter=_waiting()),
        waiting_since=Min("messages__created_at", filter=_waiting()),
    )
    rows = rows.filter(mode=mode) if mode else rows.exclude(mode=Conversation.Mode.CLOSED)
    ordered = list(
        rows.order_by(F("waiting_since").asc(nulls_last=True), F("last_message_at").desc(nulls_last=True))[:limit]
    )
    now = clock.now()
    clocks = sla.sla_states(
        conversation_ids=[c.pk for c in ordered if c.mode in (Conversation.Mode.QUEUED, Conversation.Mode.HUMAN)],
        now=now,
    )
    return [
        ConversationRow(
            conversation=c, unread=c.unread, waiting_since=c.waiting_since, sla=sla_view(clocks.get(c.pk), now=now)
        )
        for c in ordered
    ]


def mode_counts() -> dict[str, int]:
    counts = dict(Conversation.objects.values_list("mode").annotate(n=Count("id")).values_list("mode", "n"))
    return {mode: counts.get(mode, 0) for mode in Conversation.Mode.values}


def conversation_get(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("customer", "assignee").get(pk=conversation_id)


@dataclass(frozen=True)
class Timeline:
    messages: list[Message]
    events: list[ConversationEvent]
    notes: list[Note]


def conversation_timeline(
    *,
    conversation_id: int,
    after_message: int = 0,
    after_event: int = 0,
    after_note: int = 0,
    refresh: Sequence[int] = (),
    limit: int = 500,
) -> Timeline:
    """What is new since the ids the browser last saw: the resync after a (re)connect. ``refresh``
    names messages shown already whose media were still being fetched: they come again."""
    messages = (
        Message.objects.filter(Q(id__gt=after_message) | Q(id__in=list(refresh)[:50]), conversation_id=conversation_id)
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("id")[:limit]
    )
    events = (
        ConversationEvent.objects.filter(conversation_id=conversation_id, id__gt=after_event)
        .select_related("actor", "assignee")
        .order_by("id")
    )
    notes = (
        Note.objects.filter(conversation_id=conversation_id, id__gt=after_note).select_related("author").order_by("id")
    )
    return Timeline(messages=list(messages), events=list(events), notes=list(notes))


def canned_responses() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.order_by("title")


def agents() -> QuerySet[Any]:
    """Active staff who may use the console: whom a conversation can be assigned to."""
    permission = Permission.objects.filter(content_type__app_label="console", codename="use_console").first()
    allowed = Q(is_superuser=True)
    if permission is not None:
        allowed |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    return get_user_model().objects.filter(allowed, is_active=True, is_staff=True).distinct().order_by("username")


def channel_view(*, conversation: Conversation) -> dict[str, Any]:
    """What the conversation's channel says about it (a status line, whether the desk may write)
    and the actions it offers the console."""
    try:
        adapter = get_adapter(conversation.channel)
    except PermanentDeliveryError:  # a channel no longer configured: nothing to say or offer
        return {"label": "", "can_send": True, "actions": []}
    state = adapter.state(conversation_id=conversation.pk)
    actions = [] if conversation.mode == Conversation.Mode.CLOSED else adapter.actions(conversation_id=conversation.pk)
    return {
        "label": state.label,
        "can_send": state.can_send,
        "actions": [
            {"slug": a.slug, "label": a.label, "choices": [list(choice) for choice in a.choices]} for a in actions
        ],
    }
