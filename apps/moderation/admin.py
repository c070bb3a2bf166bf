"""Admin for the blacklist, the allowlist, categories, the semantic rules, (read-mostly) the review
flags, and the rule tester (apps.moderation.tester).

Every write goes through apps.moderation.services so it bumps the rules version that makes
running workers rebuild their matcher within seconds. Categories are rows (built-in keys are
valid even without one), so category fields are selects filled from the database per form.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.moderation import selectors, services, tester
from apps.moderation.models import AllowlistEntry, ContentCategory, Flag, SemanticRule, Term


def _categories() -> list[tuple[str, str]]:
    return selectors.category_choices()


def _categories_or_every() -> list[tuple[str, str]]:
    return [("", str(_("Every category"))), *selectors.category_choices()]


class CategoryFilter(admin.SimpleListFilter):
    title = _("category")
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return selectors.category_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(category=self.value()) if self.value() else queryset


class TermForm(forms.ModelForm):
    category = forms.ChoiceField(label=_("category"), choices=_categories)

    class Meta:
        model = Term
        fields = (
            "text",
            "kind",
            "category",
            "severity",
            "action",
            "match_pinyin",
            "match_initials",
            "match_inserted",
            "enabled",
            "note",
        )


class SemanticRuleForm(forms.ModelForm):
    category = forms.ChoiceField(label=_("category"), choices=_categories)

    class Meta:
        model = SemanticRule
        fields = ("category", "examples", "threshold", "action", "enabled", "note")


class AllowlistEntryForm(forms.ModelForm):
    category = forms.ChoiceField(label=_("category"), choices=_categories_or_every, required=False)

    class Meta:
        model = AllowlistEntry
        fields = ("phrase", "category", "enabled", "note")


class _RulesResource(resources.ModelResource):
    """An import that changes what the matcher sees: every worker reloads once it commits."""

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        if not result.has_errors() and not kwargs.get("dry_run"):
            services.rules_version_bump()


class TermResource(_RulesResource):
    class Meta:
        model = Term
        fields = (
            "id",
            "text",
            "kind",
            "category",
            "severity",
            "action",
            "match_pinyin",
            "match_initials",
            "match_inserted",
            "enabled",
            "note",
        )
        import_id_fields = ("text", "kind")
        skip_unchanged = True
        report_skipped = False
        # Runs Term.clean on every row, so an import cannot smuggle in a catastrophic regex.
        clean_model_instances = True


class AllowlistEntryResource(_RulesResource):
    class Meta:
        model = AllowlistEntry
        fields = ("id", "phrase", "category", "enabled", "note")
        import_id_fields = ("phrase", "category")
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True


class ContentCategoryResource(resources.ModelResource):
    class Meta:
        model = ContentCategory
        fields = ("key", "name")
        import_id_fields = ("key",)
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True


@admin.register(Term)
class TermAdmin(AuditedAdminMixin, ImportExportModelAdmin):
    form = TermForm
    resource_classes = [TermResource]
    formats = [CSV, XLSX]
    change_list_template = "admin/moderation/term/change_list.html"  # adds the rule tester's link
    list_display = ("text", "kind", "category", "severity", "action", "match_pinyin", "enabled", "updated_at")
    list_filter = ("enabled", "kind", CategoryFilter, "action", "match_pinyin", "match_initials", "match_inserted")
    list_editable = ("enabled",)
    search_fields = ("text", "note")
    ordering = ("-updated_at",)
    actions = ["enable", "disable"]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.rule_tester)
        return [path("tester/", view, name="moderation_term_tester"), *super().get_urls()]

    def rule_tester(self, request: HttpRequest) -> HttpResponse:
        return tester.rule_tester_view(request, self)

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


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(AuditedAdminMixin, ImportExportModelAdmin):
    form = AllowlistEntryForm
    resource_classes = [AllowlistEntryResource]
    formats = [CSV, XLSX]
    list_display = ("phrase", "category", "enabled", "note", "updated_at")
    list_filter = ("enabled", CategoryFilter)
    list_editable = ("enabled",)
    search_fields = ("phrase", "note")
    ordering = ("-updated_at",)

    def save_model(self, request: HttpRequest, obj: AllowlistEntry, form: Any, change: bool) -> None:
        services.allowlist_entry_save(entry=obj)

    def delete_model(self, request: HttpRequest, obj: AllowlistEntry) -> None:
        services.allowlist_entries_delete(entries=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AllowlistEntry]) -> None:
        services.allowlist_entries_delete(entries=list(queryset))


@admin.register(ContentCategory)
class ContentCategoryAdmin(AuditedAdminMixin, ImportExportModelAdmin):
    """Add and rename categories. Keys never change; built-in and used categories cannot go."""

    resource_classes = [ContentCategoryResource]
    formats = [CSV, XLSX]
    list_display = ("key", "label", "built_in", "updated_at")
    search_fields = ("key", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: ContentCategory | None = None) -> tuple[str, ...]:
        return ("key",) if obj is not None else ()

    @admin.display(description=_("name"))
    def label(self, obj: ContentCategory) -> str:
        return obj.label

    @admin.display(description=_("built in"), boolean=True)
    def built_in(self, obj: ContentCategory) -> bool:
        return obj.built_in

    def has_delete_permission(self, request: HttpRequest, obj: ContentCategory | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.built_in)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[str]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Terms hold the key as text, not a foreign key: Django cannot see them; the service can.
        return deleted, counts, perms_needed, [*protected, *services.category_delete_refusal(categories=list(objs))]

    def save_model(self, request: HttpRequest, obj: ContentCategory, form: Any, change: bool) -> None:
        services.category_save(category=obj)

    def delete_model(self, request: HttpRequest, obj: ContentCategory) -> None:
        services.categories_delete(categories=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ContentCategory]) -> None:
        services.categories_delete(categories=list(queryset))


@admin.register(SemanticRule)
class SemanticRuleAdmin(AuditedAdminMixin, admin.ModelAdmin[SemanticRule]):
    form = SemanticRuleForm
    list_display = ("category", "threshold", "action", "enabled", "updated_at")
    list_filter = ("enabled", CategoryFilter, "action")

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
