"""The conversation export's rows: one per conversation of the dashboard's cohort (created in the
range, optional channel), with the lifecycle figures of lifecycle.py measured for that one
conversation, streamed like the message export."""

from collections.abc import Iterator
from typing import Any

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf, Round

from apps.conversations.models import Conversation
from apps.reports.selectors.dashboard import ReportRange, _conversations
from apps.reports.selectors.lifecycle import _cohort
from apps.routing.models import QueueTicket, SlaBreach

CONVERSATION_EXPORT_HEADER = [
    "id",
    "channel",
    "customer",  # display name, else the channel's id of the customer
    "created_at",
    "closed_at",
    "end_reason",
    "agent",  # the assignee (at the close, or now)
    "team",  # the team of the latest queue ticket
    "first_response_s",  # first queue ticket -> first agent reply after it
    "resolution_s",  # created -> closed, closed conversations only
    "queue_wait_s",  # queued -> assigned, summed over the assigned tickets
    "csat_score",
    "sla_breaches",
]


class _Epoch(Func):
    """Seconds in an interval (Postgres ``extract(epoch FROM ...)``)."""

    template = "extract(epoch FROM %(expressions)s)"
    output_field = FloatField()


def _between(start: str, end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _whole_seconds(expression: Any) -> Cast:
    return Cast(Round(expression), IntegerField())


def conversation_export_count(*, r: ReportRange) -> int:
    return _conversations(r).count()


def conversation_export_rows(*, r: ReportRange, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Conversations of the range in id order, one tuple per row (CONVERSATION_EXPORT_HEADER), read
    through a server-side cursor; the per-conversation figures are correlated subqueries, so the
    rows stream without grouping the whole range first."""
    waits = (
        QueueTicket.objects.filter(conversation=OuterRef("pk"), assigned_at__isnull=False)
        .order_by()
        .values("conversation")
        .annotate(s=Sum(_Epoch(_between("queued_at", "assigned_at"))))
        .values("s")
    )
    breaches = (
        SlaBreach.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(n=Count("id"))
        .values("n")
    )
    latest_team = QueueTicket.objects.filter(conversation=OuterRef("pk")).order_by("-queued_at", "-pk")
    closed = Q(mode=Conversation.Mode.CLOSED, closed_at__isnull=False)
    return (
        _cohort(r, None, None)
        .annotate(
            customer_label=Coalesce(NullIf("customer__display_name", Value("")), "customer__external_id"),
            team_name=Subquery(latest_team.values("team__name")[:1]),
            first_response_s=_whole_seconds(_Epoch(_between("first_queued", "first_reply"))),
            resolution_s=Case(
                When(closed, then=_whole_seconds(_Epoch(_between("created_at", "closed_at")))),
                output_field=IntegerField(),
            ),
            queue_wait_s=_whole_seconds(Subquery(waits, output_field=FloatField())),
            breach_count=Coalesce(Subquery(breaches, output_field=IntegerField()), Value(0)),
        )
        .order_by("id")
        .values_list(
            "id",
            "channel",
            "customer_label",
            "created_at",
            "closed_at",
            "end_reason",
            "assignee__username",
            "team_name",
            "first_response_s",
            "resolution_s",
            "queue_wait_s",
            "satisfaction__score",
            "breach_count",
        )
        .iterator(chunk_size=chunk_size)
    )
