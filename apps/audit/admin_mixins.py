"""Audit every configuration change made in the admin (blacklists, rules, endpoints, ...).

Django's admin already calls log_addition / log_change / log_deletion(s) inside the same
transaction as the change, with the acting user; this mixin adds the audit row there.
Field names are recorded, values are not: they may be secrets (API keys, AppSecrets).
"""

from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.audit.events import admin_event
from apps.audit.models import AuditLog
from apps.audit.services import audit_record


def _changed_fields(message: Any) -> list[str]:
    # Django's change message is [{"changed": {"fields": [...]}}, ...] (or a plain string).
    fields: list[str] = []
    if isinstance(message, list):
        for part in message:
            if isinstance(part, dict):
                for detail in part.values():
                    fields.extend(str(f) for f in detail.get("fields", []))
    return fields


_ACTIONS = ("add", "change", "delete")


class AuditedAdminMixin:
    def __init__(self, model: type[Model], admin_site: AdminSite) -> None:
        # Checked when the admin is registered (start-up, every test run), not on a staff member's save.
        for action in _ACTIONS:
            try:
                admin_event(model, action)
            except ValueError as missing:
                raise ImproperlyConfigured(f"{type(self).__name__} audits its changes: {missing}") from None
        super().__init__(model, admin_site)  # type: ignore[call-arg]

    def _audit(self, request: HttpRequest, action: str, obj: Model, details: dict[str, Any]) -> None:
        audit_record(
            kind=AuditLog.Kind.STAFF,
            event=admin_event(type(obj), action),
            actor_id=request.user.pk,
            client_ip=request.META.get("REMOTE_ADDR"),
            details={"object_id": obj.pk, "object": str(obj)[:200], **details},
        )

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, "add", obj, {})
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, "change", obj, {"fields": _changed_fields(message)})
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        for obj in queryset:
            self._audit(request, "delete", obj, {})
        return super().log_deletions(request, queryset)  # type: ignore[misc]
