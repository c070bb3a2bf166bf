from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.connectors import views
from apps.connectors.models import Connector, Lookup
from apps.core.admin_mixins import ReadOnlyAdminMixin
from apps.core.fields import EncryptedTextField


@admin.register(Connector)
class ConnectorAdmin(AuditedAdminMixin, admin.ModelAdmin[Connector]):
    list_display = ["name", "kind", "base_url", "enabled", "timeout_s", "updated_at"]
    list_filter = ["enabled", "kind"]
    # The secret is stored encrypted and never shown back: the form keeps it when left empty.
    formfield_overrides = {EncryptedTextField: {"widget": forms.PasswordInput(render_value=False)}}
    fieldsets = [
        (None, {"fields": ["name", "enabled", "kind", "base_url", "secret", "entry_point"]}),
        (_("Limits"), {"fields": ["connect_timeout_s", "timeout_s"]}),
        (_("Requests and answers"), {"fields": ["operations"]}),
        (
            _("When to ask the shop"),
            {
                "fields": [
                    "order_number_regex",
                    "order_intent_regex",
                    "logistics_intent_regex",
                    "after_sale_intent_regex",
                ]
            },
        ),
    ]

    def save_model(self, request: HttpRequest, obj: Connector, form: Any, change: bool) -> None:
        if change and not form.cleaned_data.get("secret"):
            obj.secret = Connector.objects.get(pk=obj.pk).secret
        super().save_model(request, obj, form, change)


@admin.register(Lookup)
class LookupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Lookup]):
    """The audit of shop look-ups: read-only. Also mounts the inbox's Orders endpoints."""

    list_display = ["created_at", "operation", "result", "customer", "agent", "order_no", "ms", "connector"]
    list_filter = ["operation", "result"]
    list_select_related = ["customer", "agent", "connector"]
    search_fields = ["order_no"]
    date_hierarchy = "created_at"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        endpoints = [
            path("api/orders/<int:customer_id>/", wrap(views.orders), name="connectors_orders"),
            path("api/after-sale/", wrap(views.after_sale), name="connectors_after_sale"),
        ]
        return [*endpoints, *super().get_urls()]
