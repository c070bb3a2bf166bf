"""Admin screens: teams and routing rules (admins), agents' capacity (admins; status is the agent's),
business hours with their weekly intervals and holidays (admins), SLA policies (admins) and the
breaches recorded against them (admins and managers, read only)."""

from django.contrib import admin
from django.http import HttpRequest

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.routing.models import (
    AgentStatus,
    BusinessHours,
    Holiday,
    OpeningInterval,
    RoutingRule,
    SlaBreach,
    SlaPolicy,
    Team,
)


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, admin.ModelAdmin[Team]):
    list_display = ("name",)
    search_fields = ("name",)
    filter_horizontal = ("members",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedAdminMixin, admin.ModelAdmin[RoutingRule]):
    list_display = ("priority", "team", "enabled", "channel", "moderation_category", "keywords", "customer_label")
    list_editable = ("enabled",)
    list_filter = ("enabled", "team")
    ordering = ("priority", "pk")


@admin.register(AgentStatus)
class AgentStatusAdmin(AuditedAdminMixin, admin.ModelAdmin[AgentStatus]):
    list_display = ("user", "status", "capacity", "last_assigned_at", "changed_at")
    list_filter = ("status",)
    list_editable = ("capacity",)
    # The status is set in the console (and by presence), where going offline hands chats on.
    readonly_fields = ("status", "away_auto", "last_assigned_at", "changed_at")
    autocomplete_fields = ("user",)


class OpeningIntervalInline(admin.TabularInline[OpeningInterval, BusinessHours]):
    model = OpeningInterval
    extra = 0


class HolidayInline(admin.TabularInline[Holiday, BusinessHours]):
    model = Holiday
    extra = 0


@admin.register(BusinessHours)
class BusinessHoursAdmin(AuditedAdminMixin, admin.ModelAdmin[BusinessHours]):
    list_display = ("__str__", "enabled", "time_zone")
    list_editable = ("enabled",)
    inlines = (OpeningIntervalInline, HolidayInline)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin[SlaPolicy]):
    list_display = ("name", "team", "first_response_s", "next_response_s", "warn_before_s", "enabled")
    list_editable = ("enabled",)


@admin.register(SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin[SlaBreach]):
    """Written by the routing beat only: a record, never edited."""

    list_display = ("breached_at", "kind", "conversation", "team", "assignee", "due_at")
    list_filter = ("kind", "team")
    list_select_related = ("conversation__customer", "team", "assignee")
    date_hierarchy = "breached_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SlaBreach | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SlaBreach | None = None) -> bool:
        return False
