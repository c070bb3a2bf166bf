"""Admin for knowledge entries, with CSV/XLSX import and export, and for the examples of asking for a person.

Every write goes through apps.knowledge.services so it bumps the knowledge version (workers rebuild
their index, the answer cache stops serving answers computed from the old entries) and queues the
embedding task; an example's write bumps the human-request version (workers refit the detector).
"""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.knowledge import services
from apps.knowledge.models import Entry, HumanRequestExample, embedding_key_of
from apps.moderation.semantic import encoder_identity


class EntryResource(resources.ModelResource):
    class Meta:
        model = Entry
        fields = ("id", "question", "variants", "answer", "tags", "enabled", "direct_answer")
        import_id_fields = ("question",)
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        if not result.has_errors() and not kwargs.get("dry_run"):
            services.entries_imported()


@admin.register(Entry)
class EntryAdmin(AuditedAdminMixin, ImportExportModelAdmin):
    resource_classes = [EntryResource]
    formats = [CSV, XLSX]
    list_display = ("question", "short_answer", "tags", "enabled", "direct_answer", "embedded", "updated_at")
    list_filter = ("enabled", "direct_answer")
    search_fields = ("question", "variants", "answer", "tags")
    ordering = ("-updated_at",)
    fields = ("question", "variants", "answer", "tags", "enabled", "direct_answer")
    actions = ["enable", "disable"]

    @admin.display(description=_("answer"))
    def short_answer(self, obj: Entry) -> str:
        return obj.answer if len(obj.answer) <= 60 else obj.answer[:60] + "…"

    @admin.display(description=_("embedded"), boolean=True)
    def embedded(self, obj: Entry) -> bool:
        key = embedding_key_of(model=encoder_identity(settings.KNOWLEDGE_MODEL), phrases=obj.phrases())
        return obj.embedding_key == key

    def save_model(self, request: HttpRequest, obj: Entry, form: Any, change: bool) -> None:
        services.entry_save(entry=obj)

    def delete_model(self, request: HttpRequest, obj: Entry) -> None:
        services.entries_delete(entries=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        services.entries_delete(entries=list(queryset))

    @admin.action(description=_("Enable selected entries"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        count = services.entries_set_enabled(entries=list(queryset), enabled=True)
        self.message_user(request, _("%(count)d entries enabled.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Disable selected entries"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        count = services.entries_set_enabled(entries=list(queryset), enabled=False)
        self.message_user(request, _("%(count)d entries disabled.") % {"count": count}, messages.SUCCESS)


@admin.register(HumanRequestExample)
class HumanRequestExampleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """What the human-request detector learns from; every write bumps its version (workers refit)."""

    list_display = ("text", "kind", "enabled", "note", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("text", "note")
    ordering = ("kind", "text")
    fields = ("text", "kind", "enabled", "note")
    actions = ["enable", "disable"]

    def save_model(self, request: HttpRequest, obj: HumanRequestExample, form: Any, change: bool) -> None:
        services.human_request_example_save(example=obj)

    def delete_model(self, request: HttpRequest, obj: HumanRequestExample) -> None:
        services.human_request_examples_delete(examples=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[HumanRequestExample]) -> None:
        services.human_request_examples_delete(examples=list(queryset))

    @admin.action(description=_("Enable selected examples"))
    def enable(self, request: HttpRequest, queryset: QuerySet[HumanRequestExample]) -> None:
        count = services.human_request_examples_set_enabled(examples=list(queryset), enabled=True)
        self.message_user(request, _("%(count)d examples enabled.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Disable selected examples"))
    def disable(self, request: HttpRequest, queryset: QuerySet[HumanRequestExample]) -> None:
        count = services.human_request_examples_set_enabled(examples=list(queryset), enabled=False)
        self.message_user(request, _("%(count)d examples disabled.") % {"count": count}, messages.SUCCESS)
