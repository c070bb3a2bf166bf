"""Reads of the reports app: dashboard figures (dashboard.py, SLA figures in sla.py) and export rows
(export.py, one per message; conversation_export.py, one per conversation); lifecycle figures per
agent and team in lifecycle.py."""

from apps.reports.selectors.conversation_export import (
    CONVERSATION_EXPORT_HEADER,
    conversation_export_count,
    conversation_export_rows,
)
from apps.reports.selectors.dashboard import (
    AgentLoad,
    CategoryRate,
    DailyCount,
    DailyMessages,
    Dashboard,
    Durations,
    Latency,
    Outcomes,
    ReportRange,
    agent_workload,
    cache_hit_rate,
    conversation_outcomes,
    conversations_per_day,
    customer_messages_count,
    dashboard_get,
    first_response_times,
    flagged_by_category,
    llm_latency,
    messages_per_day,
    resolution_times,
)
from apps.reports.selectors.export import EXPORT_HEADER, export_rows, export_rows_count
from apps.reports.selectors.lifecycle import Lifecycle, LifecycleRow, lifecycle_figures
from apps.reports.selectors.sla import SlaSummary, sla_summary

__all__ = [
    "CONVERSATION_EXPORT_HEADER",
    "EXPORT_HEADER",
    "AgentLoad",
    "CategoryRate",
    "DailyCount",
    "DailyMessages",
    "Dashboard",
    "Durations",
    "Latency",
    "Lifecycle",
    "LifecycleRow",
    "Outcomes",
    "ReportRange",
    "SlaSummary",
    "agent_workload",
    "cache_hit_rate",
    "conversation_export_count",
    "conversation_export_rows",
    "conversation_outcomes",
    "conversations_per_day",
    "customer_messages_count",
    "dashboard_get",
    "export_rows",
    "export_rows_count",
    "first_response_times",
    "flagged_by_category",
    "lifecycle_figures",
    "llm_latency",
    "messages_per_day",
    "resolution_times",
    "sla_summary",
]
