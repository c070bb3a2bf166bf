import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin[AuditLog]):
    list_display = (
        "created_at",
        "kind",
        "event",
        "actor",
        "customer_ref",
        "channel",
        "model",
        "latency_ms",
        "client_ip",
    )
    list_filter = ("kind", "event", "channel")
    search_fields = ("customer_ref", "event")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    actions = ["export_csv"]

    def get_readonly_fields(self, request: HttpRequest, obj: AuditLog | None = None) -> list[str]:
        return [field.name for field in AuditLog._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("audit.export_auditlog")

    @admin.action(description=_("Export selected entries as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> StreamingHttpResponse:
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=AuditEvent.AUDIT_EXPORT,
            actor_id=request.user.pk,
            client_ip=request.META.get("REMOTE_ADDR"),
            details={"rows": queryset.count()},
        )
        writer = csv.writer(_Echo())
        header = ["id", "time", "kind", "event", "actor", "customer", "channel", "query", "response", "model",
                  "endpoint", "latency_ms", "client_ip", "hash"]  # fmt: skip

        def rows() -> Iterator[Any]:
            yield writer.writerow(header)
            for row in queryset.order_by("id").iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        row.pk,
                        row.created_at.isoformat(),
                        row.kind,
                        row.event,
                        row.actor_id or "",
                        row.customer_ref,
                        row.channel,
                        row.query,
                        row.response,
                        row.model,
                        row.endpoint,
                        row.latency_ms or "",
                        row.client_ip or "",
                        row.hash,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response
