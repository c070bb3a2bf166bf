"""Machine-client API tokens."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from apps.core.models import ApiToken

_TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once; only its hash is stored


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, name: str, scopes: list[str], created_by_id: int | None) -> IssuedToken:
    unknown = set(scopes) - set(ApiToken.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    raw = "dsk_" + secrets.token_urlsafe(_TOKEN_BYTES)
    token = ApiToken.objects.create(
        name=name, prefix=raw[4:12], token_hash=_digest(raw), scopes=sorted(scopes), created_by_id=created_by_id
    )
    return IssuedToken(token=token, plaintext=raw)


def api_token_authenticate(*, raw: str, scope: str) -> ApiToken | None:
    if not raw.startswith("dsk_") or len(raw) < 16:
        return None
    digest = _digest(raw)
    for token in ApiToken.objects.filter(prefix=raw[4:12], revoked_at__isnull=True):
        if hmac.compare_digest(token.token_hash, digest) and scope in token.scopes:
            now = timezone.now()
            # One write a minute at most: a busy bridge must not turn every call into an UPDATE.
            if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            return token
    return None


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
