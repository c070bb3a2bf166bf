"""The console inside the admin site: its pages hang off the Workspace entry's URLs, and the
canned responses and notes get ordinary admin screens."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.console import canned, inbox_views, media_views, selectors, views
from apps.console.models import CannedResponse, Workspace
from apps.core.admin_mixins import ReadOnlyAdminMixin


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Workspace]):
    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            # The admin index links an app's model to "<app>_<model>_changelist": the queue.
            path("", wrap(views.queue), name="console_workspace_changelist"),
            path("inbox/", wrap(inbox_views.inbox_page), name="console_inbox"),
            path("inbox/list/", wrap(inbox_views.inbox_list), name="console_inbox_list"),
            path("inbox/search/", wrap(inbox_views.inbox_search_view), name="console_inbox_search"),
            path("inbox/bulk/", wrap(inbox_views.inbox_bulk), name="console_inbox_bulk"),
            path("inbox/preferences/", wrap(inbox_views.inbox_preferences), name="console_inbox_preferences"),
            path("inbox/<int:conversation_id>/", wrap(inbox_views.inbox_pane), name="console_inbox_pane"),
            path("inbox/<int:conversation_id>/read/", wrap(inbox_views.inbox_read), name="console_inbox_read"),
            path("conversations/", wrap(views.conversations), name="console_conversations"),
            path("conversations/<int:conversation_id>/", wrap(views.conversation), name="console_conversation"),
            path(
                "conversations/<int:conversation_id>/timeline/",
                wrap(views.timeline),
                name="console_conversation_timeline",
            ),
            # Before the actions' catch-all "<slug:action>" (multipart, read into memory only).
            path(
                "conversations/<int:conversation_id>/media/",
                wrap(media_views.media_upload),
                name="console_conversation_media",
            ),
            path(
                "conversations/<int:conversation_id>/<slug:action>/",
                wrap(views.conversation_action),
                name="console_conversation_action",
            ),
            path("flags/<int:flag_id>/<slug:action>/", wrap(views.flag_action), name="console_flag_action"),
            path("media/<int:attachment_id>/", wrap(media_views.media), name="console_media"),
            path("availability/", wrap(views.availability), name="console_availability"),
        ]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can_use_console(user=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CannedResponseForm(forms.ModelForm[CannedResponse]):
    class Meta:
        model = CannedResponse
        fields = ["title", "shortcut", "body"]
        help_texts = {
            "body": canned.HELP,
        }

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"])
        canned.placeholders(body)  # unbalanced braces or a bad variable name: a clear error
        return body


@admin.register(CannedResponse)
class CannedResponseAdmin(AuditedAdminMixin, admin.ModelAdmin[CannedResponse]):
    form = CannedResponseForm
    list_display = ("title", "shortcut", "updated_at")
    search_fields = ("title", "shortcut", "body")
