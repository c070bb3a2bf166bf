"""The message export's rows: the same range and channel as the dashboard, streamed."""

from collections.abc import Iterator
from typing import Any

from apps.reports.selectors.dashboard import ReportRange, _messages

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
]


def export_rows_count(*, r: ReportRange) -> int:
    return _messages(r).count()


def export_rows(*, r: ReportRange, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Messages of the range in id order, one tuple per row (EXPORT_HEADER), read through a
    server-side cursor so memory stays flat whatever the range."""
    return (
        _messages(r)
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
        )
        .iterator(chunk_size=chunk_size)
    )
