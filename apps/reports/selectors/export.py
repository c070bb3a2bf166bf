"""The message export's rows: the same range and channel as the dashboard, streamed."""

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from apps.reports.selectors.dashboard import ReportRange, _messages
from apps.routing.models import SlaBreach

EXPORT_HEADER = [
    "id",
    "created_at",
    "conversation_id",
    "channel",
    "direction",
    "author_kind",
    "agent",
    "status",
    "answer_ms",
    "endpoint",
    "ttft_ms",
    "tokens_in",
    "tokens_out",
    "body",
    "sla_breaches",  # missed response targets of the message's conversation (routing SlaBreach)
]


def export_rows_count(*, r: ReportRange) -> int:
    return _messages(r).count()


def export_rows(*, r: ReportRange, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Messages of the range in id order, one tuple per row (EXPORT_HEADER), read through a
    server-side cursor so memory stays flat whatever the range."""
    breaches = (
        SlaBreach.objects.filter(conversation_id=OuterRef("conversation_id"))
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        _messages(r)
        .annotate(sla_breaches=Coalesce(Subquery(breaches, output_field=IntegerField()), Value(0)))
        .order_by("id")
        .values_list(
            "id",
            "created_at",
            "conversation_id",
            "channel",
            "direction",
            "author_kind",
            "author__username",
            "status",
            "answer_ms",
            "answer_meta__endpoint",
            "answer_meta__ttft_ms",
            "answer_meta__tokens_in",
            "answer_meta__tokens_out",
            "body",
            "sla_breaches",
        )
        .iterator(chunk_size=chunk_size)
    )
