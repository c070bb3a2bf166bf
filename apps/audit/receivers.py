"""Staff sign-ins and failed attempts. The auth signals carry the user and the request, so
the acting user is not lost here as it would be with model signals."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.audit.services import audit_record


def _ip(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in, dispatch_uid="audit-login")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(kind=AuditLog.Kind.STAFF, event=AuditEvent.STAFF_LOGIN, actor_id=user.pk, client_ip=_ip(request))


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Only the username: the password in the credentials must never reach a log.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        kind=AuditLog.Kind.STAFF,
        event=AuditEvent.STAFF_LOGIN_FAILED,
        client_ip=_ip(request),
        details={"username": username},
    )
