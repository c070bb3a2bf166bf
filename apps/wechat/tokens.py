"""One access_token per AppID / CorpID, shared by every process.

Fetching a new token invalidates the previous one, so refreshes are serialised by a Redis
lock and happen a margin before expiry; everyone else reads the shared copy.
"""

import contextlib
import json
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

import redis
from django.conf import settings

from apps.wechat import client
from apps.wechat.client import InvalidTokenError, TransientApiError
from apps.wechat.models import WechatAccount

_T = TypeVar("_T")


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}", socket_timeout=2, socket_connect_timeout=2
    )


def _key(account: WechatAccount) -> str:
    return f"wechat:access_token:{account.kind}:{account.app_id}"


def _cached(key: str) -> tuple[str, float] | None:
    raw = _redis().get(key)
    if raw is None:
        return None
    data = json.loads(raw)
    return str(data["token"]), float(data["expires_at"])


def _fetch(account: WechatAccount) -> client.TokenGrant:
    if account.kind == WechatAccount.Kind.WECOM_KF:
        return client.wecom_token_fetch(corp_id=account.app_id, secret=account.secret)
    return client.oa_token_fetch(app_id=account.app_id, secret=account.secret)


def access_token_get(*, account: WechatAccount, rejected: str = "") -> str:
    """A valid token for the account. ``rejected`` names a token WeChat just refused."""
    key = _key(account)
    margin = settings.WECHAT_TOKEN_REFRESH_MARGIN_SECONDS
    cached = _cached(key)
    if cached and cached[0] != rejected and cached[1] - margin > time.time():
        return cached[0]
    lock = _redis().lock(f"{key}:refresh", timeout=30, blocking_timeout=10)
    if not lock.acquire():
        # Someone else is refreshing; a token that has not expired yet still works meanwhile.
        if cached and cached[0] != rejected and cached[1] > time.time():
            return cached[0]
        raise TransientApiError("access_token refresh is held by another process")
    try:
        cached = _cached(key)
        if cached and cached[0] != rejected and cached[1] - margin > time.time():
            return cached[0]
        grant = _fetch(account)
        expires_in = max(grant.expires_in, 60)
        value = json.dumps({"token": grant.access_token, "expires_at": time.time() + expires_in})
        _redis().set(key, value, ex=expires_in)
        return grant.access_token
    finally:
        # If the lock timed out first, the value written is still good.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()


def access_token_forget(*, account: WechatAccount) -> None:
    _redis().delete(_key(account))


def with_access_token(*, account: WechatAccount, call: Callable[[str], _T]) -> _T:
    """Run ``call(token)``; if WeChat says the token is invalid, refresh once and run it again."""
    token = access_token_get(account=account)
    try:
        return call(token)
    except InvalidTokenError:
        return call(access_token_get(account=account, rejected=token))
