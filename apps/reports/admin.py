"""The manager dashboard and exports, inside the admin site. Every view needs reports.manager."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.moderation.models import Category
from apps.reports import charts, selectors, services, writers
from apps.reports.forms import ExportForm, RangeForm
from apps.reports.models import MANAGER_PERMISSION, Export

_FILE_CHUNK = 256 * 1024
_CATEGORY = dict(Category.choices)


def _require_manager(request: HttpRequest) -> None:
    if not request.user.has_perm(MANAGER_PERMISSION):
        raise PermissionDenied


async def _aiter_sync(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Django consumes a *sync* iterator into a list before sending it under ASGI; pulling each
    # chunk through sync_to_async keeps one chunk in memory at a time. thread_sensitive keeps the
    # server-side cursor on the thread that opened it.
    pull = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    while (chunk := await pull()) is not None:
        yield chunk


def _file_chunks(file: Any) -> Iterator[bytes]:
    with file.open("rb") as handle:
        while chunk := handle.read(_FILE_CHUNK):
            yield chunk


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin[Export]):
    list_display = ("id", "created_at", "requested_by", "kind", "format", "date_from", "date_to", "channel", "progress")
    list_filter = ("status", "kind", "format")
    list_select_related = ("requested_by",)
    ordering = ("-created_at",)
    # The file has no URL (ExportStorage.url raises): its link is the "progress" download link.
    exclude = ("file",)
    readonly_fields = [*(f.name for f in Export._meta.fields if f.name != "file"), "progress"]
    change_list_template = "reports/export_change_list.html"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGER_PERMISSION)

    def has_view_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return request.user.has_perm(MANAGER_PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # exports are requested from the dashboard

    def has_change_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return False

    @admin.display(description=_("progress"))
    def progress(self, obj: Export) -> str:
        if obj.status == Export.Status.DONE:
            url = reverse("admin:reports_export_download", args=[obj.pk])
            return format_html(
                '<a class="export-download" href="{}">{} ({} rows)</a>', url, _("Download"), obj.rows_done
            )
        if obj.status == Export.Status.FAILED:
            return format_html('<span class="export-failed">{}</span>', obj.get_status_display())
        return format_html(
            '<progress class="export-progress" max="100" value="{}"></progress> {}%',
            obj.progress_percent,
            obj.progress_percent,
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        running = Export.objects.filter(status__in=[Export.Status.PENDING, Export.Status.RUNNING]).exists()
        return super().changelist_view(request, {**(extra_context or {}), "refresh_seconds": 3 if running else 0})

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="reports_dashboard"),
            path("request/", wrap(require_POST(self.request_view)), name="reports_export_request"),
            path("stream.csv", wrap(self.stream_csv_view), name="reports_export_stream"),
            path("<int:export_id>/download/", wrap(self.download_view), name="reports_export_download"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        _require_manager(request)
        form = RangeForm.from_query(request.GET)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Manager dashboard"),
            "form": form,
            "opts": self.model._meta,
        }
        if form.is_valid():
            dashboard = selectors.dashboard_get(r=form.report_range())
            lifecycle = selectors.lifecycle_figures(r=form.report_range())
            context.update(
                d=dashboard,
                lifecycle=lifecycle,
                # Same cohort as the tiles: no conversations, no overall row (the empty state instead).
                lifecycle_overall=[lifecycle.overall] if dashboard.outcomes.conversations else [],
                export_form=ExportForm(
                    initial={**form.cleaned_data, "kind": Export.Kind.MESSAGES, "format": Export.Format.XLSX}
                ),
                query=request.GET.urlencode(),
                **_charts(dashboard),
            )
        return TemplateResponse(request, "reports/dashboard.html", context)

    def request_view(self, request: HttpRequest) -> HttpResponse:
        _require_manager(request)
        form = ExportForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("The export was not started: %(errors)s") % {"errors": form.errors.as_text()})
            return HttpResponseRedirect(reverse("admin:reports_dashboard"))
        r = form.report_range()
        export = services.export_request(
            user=request.user,
            fmt=form.cleaned_data["format"],
            date_from=r.date_from,
            date_to=r.date_to,
            channel=r.channel,
            kind=form.cleaned_data["kind"],
        )
        messages.success(
            request, _("Export #%(id)s started; it is listed below with its progress.") % {"id": export.pk}
        )
        return HttpResponseRedirect(reverse("admin:reports_export_changelist"))

    def stream_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        """The range as CSV right away, streamed row by row (no task, no file)."""
        _require_manager(request)
        form = RangeForm.from_query(request.GET)
        if not form.is_valid():
            return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
        r = form.report_range()
        kind = request.GET.get("kind") or Export.Kind.MESSAGES
        if kind not in services.EXPORT_KINDS:
            return HttpResponse("unknown kind", status=400, content_type="text/plain; charset=utf-8")
        spec = services.EXPORT_KINDS[kind]
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=AuditEvent.REPORT_EXPORT_STREAM,
            actor_id=request.user.pk,
            client_ip=request.META.get("REMOTE_ADDR"),
            details={"from": str(r.date_from), "to": str(r.date_to), "channel": r.channel, "kind": kind},
        )
        chunks = writers.csv_chunks(header=spec.header, rows=spec.rows(r=r))
        response = StreamingHttpResponse(_aiter_sync(chunks), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{spec.name}-{r.date_from}-{r.date_to}.csv"'
        return response

    def download_view(self, request: HttpRequest, export_id: int) -> HttpResponseBase:
        _require_manager(request)
        export = get_object_or_404(Export, pk=export_id, status=Export.Status.DONE)
        content_type = {
            Export.Format.CSV: "text/csv; charset=utf-8",
            Export.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }[Export.Format(export.format)]
        response = StreamingHttpResponse(_aiter_sync(_file_chunks(export.file)), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{Path(export.file.name or "export").name}"'
        response["Content-Length"] = str(export.file.size)
        return response


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _charts(d: selectors.Dashboard) -> dict[str, Any]:
    labels = [day.strftime("%m-%d") for day in d.range.days()]
    return {
        "chart_messages": charts.bar_chart(
            labels=labels,
            series=[
                charts.Series(str(_("Customer messages")), [x.inbound for x in d.messages_per_day]),
                charts.Series(str(_("Replies")), [x.outbound for x in d.messages_per_day]),
            ],
            title=str(_("Messages per day")),
        ),
        "chart_conversations": charts.bar_chart(
            labels=labels,
            series=[charts.Series(str(_("Conversations")), [x.count for x in d.conversations_per_day])],
            title=str(_("Conversations per day")),
        ),
        "chart_flagged": charts.hbar_chart(
            rows=[
                (str(_CATEGORY.get(c.category, c.category)), c.rate, f"{_pct(c.rate)} ({c.messages})")
                for c in d.flagged
            ],
            title=str(_("Flagged rate by category")),
        ),
        "times": [
            (_("First response, bot"), d.first_response_bot),
            (_("First response, human"), d.first_response_human),
            (_("Resolution, bot only"), d.resolution_bot),
            (_("Resolution, with a human"), d.resolution_human),
        ],
        "containment": _pct(d.outcomes.containment_rate),
        "handoff": _pct(d.outcomes.handoff_rate),
        "cache_hit": _pct(d.cache_hit_rate),
        "sla_compliance": _pct(d.sla.compliance if d.sla is not None else None),
    }
