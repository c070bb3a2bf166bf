from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import Conversation, Customer, Message, Satisfaction


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ("display_name", "external_id", "channel", "created_at")
    list_filter = ("channel",)
    search_fields = ("display_name", "external_id")
    readonly_fields = ("channel", "external_id", "created_at", "updated_at")


class MessageInline(admin.TabularInline[Message, Conversation]):
    model = Message
    fields = ("created_at", "direction", "author_kind", "body", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("id",)

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ("id", "customer", "channel", "mode", "assignee", "last_message_at")
    list_filter = ("mode", "channel")
    search_fields = ("customer__display_name", "customer__external_id")
    list_select_related = ("customer", "assignee")
    readonly_fields = ("customer", "channel", "created_at", "updated_at", "last_message_at", "closed_at")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("id", "created_at", "customer_name", "direction", "author_kind", "short_body", "status")
    list_filter = ("status", "direction", "author_kind", "channel")
    list_select_related = ("conversation__customer",)
    date_hierarchy = "created_at"
    ordering = ("-id",)
    readonly_fields = [field.name for field in Message._meta.fields]

    @admin.display(description=_("customer"))
    def customer_name(self, obj: Message) -> str:
        return str(obj.conversation.customer)

    @admin.display(description=_("body"))
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 60 else obj.body[:60] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Messages enter only through channels so that every one is processed and audited.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False


@admin.register(Satisfaction)
class SatisfactionAdmin(admin.ModelAdmin[Satisfaction]):
    """Ratings are the customers' words: read only, for managers and admins (core roles 0009)."""

    list_display = ("conversation", "channel", "agent", "score", "short_comment", "asked_at", "answered_at")
    list_filter = ("score", "channel", "via", "agent")
    list_select_related = ("conversation", "agent")
    date_hierarchy = "asked_at"
    ordering = ("-id",)
    readonly_fields = [field.name for field in Satisfaction._meta.fields]

    @admin.display(description=_("comment"))
    def short_comment(self, obj: Satisfaction) -> str:
        return obj.comment if len(obj.comment) <= 60 else obj.comment[:60] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Satisfaction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Satisfaction | None = None) -> bool:
        return False
