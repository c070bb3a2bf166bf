"""SLA figures: breaches of the conversations of the range (the dashboard's conversation cohort)
against the conversations that had a human."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Q

from apps.routing.models import SlaBreach

if TYPE_CHECKING:
    from apps.reports.selectors.dashboard import ReportRange


@dataclass(frozen=True)
class SlaSummary:
    first_breaches: int
    next_breaches: int
    conversations_breached: int
    conversations_with_human: int

    @property
    def compliance(self) -> float | None:
        """Share of the conversations with a human that never missed a target; None without any."""
        whole = self.conversations_with_human
        return (whole - self.conversations_breached) / whole if whole else None


def sla_summary(*, r: "ReportRange", with_human: int) -> SlaSummary:
    rows = SlaBreach.objects.filter(conversation__created_at__gte=r.start, conversation__created_at__lt=r.end)
    if r.channel:
        rows = rows.filter(conversation__channel=r.channel)
    totals = rows.aggregate(
        first=Count("id", filter=Q(kind=SlaBreach.Kind.FIRST)),
        next=Count("id", filter=Q(kind=SlaBreach.Kind.NEXT)),
        conversations=Count("conversation_id", distinct=True),
    )
    return SlaSummary(
        first_breaches=totals["first"],
        next_breaches=totals["next"],
        conversations_breached=totals["conversations"],
        conversations_with_human=with_human,
    )
