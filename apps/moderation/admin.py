"""Admin for the blacklist, the semantic rules and (read-mostly) the review flags.

Every write goes through apps.moderation.services so it bumps the rules version that makes
running workers rebuild their matcher within seconds.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.moderation import services
from apps.moderation.models import Flag, SemanticRule, Term


class TermResource(resources.ModelResource):
    class Meta:
        model = Term
        fields = ("id", "text", "kind", "category", "severity", "action", "match_pinyin", "enabled", "note")
        import_id_fields = ("text", "kind")
        skip_unchanged = True
        report_skipped = False
        # Runs Term.clean on every row, so an import cannot smuggle in a catastrophic regex.
        clean_model_instances = True

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        if not result.has_errors() and not kwargs.get("dry_run"):
            services.rules_version_bump()


@admin.register(Term)
class TermAdmin(AuditedAdminMixin, ImportExportModelAdmin):
    resource_classes = [TermResource]
    formats = [CSV, XLSX]
    list_display = ("text", "kind", "category", "severity", "action", "match_pinyin", "enabled", "updated_at")
    list_filter = ("enabled", "kind", "category", "action", "match_pinyin")
    list_editable = ("enabled",)
    search_fields = ("text", "note")
    ordering = ("-updated_at",)
    actions = ["enable", "disable"]

    def save_model(self, request: HttpRequest, obj: Term, form: Any, change: bool) -> None:
        services.term_save(term=obj)

    def delete_model(self, request: HttpRequest, obj: Term) -> None:
        services.terms_delete(terms=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        services.terms_delete(terms=list(queryset))

    @admin.action(description=_("Enable selected terms"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        count = services.terms_set_enabled(terms=list(queryset), enabled=True)
        self.message_user(request, _("%(count)d terms enabled.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Disable selected terms"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        count = services.terms_set_enabled(terms=list(queryset), enabled=False)
        self.message_user(request, _("%(count)d terms disabled.") % {"count": count}, messages.SUCCESS)


@admin.register(SemanticRule)
class SemanticRuleAdmin(AuditedAdminMixin, admin.ModelAdmin[SemanticRule]):
    list_display = ("category", "threshold", "action", "enabled", "updated_at")
    list_filter = ("enabled", "category", "action")

    def save_model(self, request: HttpRequest, obj: SemanticRule, form: Any, change: bool) -> None:
        services.semantic_rule_save(rule=obj)

    def delete_model(self, request: HttpRequest, obj: SemanticRule) -> None:
        services.semantic_rules_delete(rules=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SemanticRule]) -> None:
        services.semantic_rules_delete(rules=list(queryset))


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin[Flag]):
    """Read-mostly: the review queue itself lives in the console; admins can confirm or dismiss here."""

    list_display = ("id", "created_at", "direction", "verdict", "short_text", "status", "reviewer", "decided_at")
    list_filter = ("status", "direction", "verdict")
    list_select_related = ("reviewer",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in Flag._meta.fields]
    actions = ["confirm", "dismiss"]

    @admin.display(description=_("checked text"))
    def short_text(self, obj: Flag) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:60] + "…"

    @admin.action(description=_("Confirm selected flags"))
    def confirm(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for flag in queryset:
            services.flag_confirm(flag=flag, reviewer=request.user)  # type: ignore[arg-type]

    @admin.action(description=_("Dismiss selected flags"))
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for flag in queryset:
            services.flag_dismiss(flag=flag, reviewer=request.user)  # type: ignore[arg-type]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Flag | None = None) -> bool:
        return False
