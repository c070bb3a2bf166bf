"""One access_token per AppID / CorpID, shared by every process.

Fetching a new token invalidates the previous one, so refreshes are serialised by a Redis
lock and happen a margin before expiry; everyone else reads the shared copy, and keeps it in
memory for up to a minute (a Redis GET per send otherwise). WeChat keeps a replaced token working
for about 5 minutes, and a token it refuses is forgotten here and fetched again.
"""

import contextlib
import json
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from django.conf import settings

from apps.core.redis import cache_redis
from apps.wechat import client
from apps.wechat.client import InvalidTokenError, TransientApiError
from apps.wechat.models import WechatAccount

_T = TypeVar("_T")
_LOCAL_SECONDS = 60.0
# (Redis key, the API that issued the token) -> (token, use it until): this process's copies.
_local: dict[tuple[str, str], tuple[str, float]] = {}


def _key(account: WechatAccount) -> str:
    return f"wechat:access_token:{account.kind}:{account.app_id}"


def _local_key(account: WechatAccount) -> tuple[str, str]:
    # The API base too: a token is only good at the server that issued it (tests start a fake per test).
    api = (
        settings.WECHAT_WECOM_API_BASE_URL
        if account.kind == WechatAccount.Kind.WECOM_KF
        else settings.WECHAT_OA_API_BASE_URL
    )
    return _key(account), api


def _remember(local_key: tuple[str, str], token: str, expires_at: float, margin: float) -> None:
    _local[local_key] = (token, min(expires_at - margin, time.time() + _LOCAL_SECONDS))


def _cached(key: str) -> tuple[str, float] | None:
    raw = cache_redis().get(key)
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
    local_key = _local_key(account)
    margin = settings.WECHAT_TOKEN_REFRESH_MARGIN_SECONDS
    local = _local.get(local_key)
    if local is not None:
        if local[0] != rejected and local[1] > time.time():
            return local[0]
        _local.pop(local_key, None)
    cached = _cached(key)
    if cached and cached[0] != rejected and cached[1] - margin > time.time():
        _remember(local_key, cached[0], cached[1], margin)
        return cached[0]
    lock = cache_redis().lock(f"{key}:refresh", timeout=30, blocking_timeout=10)
    if not lock.acquire():
        # Someone else is refreshing; a token that has not expired yet still works meanwhile.
        if cached and cached[0] != rejected and cached[1] > time.time():
            return cached[0]
        raise TransientApiError("access_token refresh is held by another process")
    try:
        cached = _cached(key)
        if cached and cached[0] != rejected and cached[1] - margin > time.time():
            _remember(local_key, cached[0], cached[1], margin)
            return cached[0]
        grant = _fetch(account)
        expires_in = max(grant.expires_in, 60)
        expires_at = time.time() + expires_in
        cache_redis().set(key, json.dumps({"token": grant.access_token, "expires_at": expires_at}), ex=expires_in)
        _remember(local_key, grant.access_token, expires_at, margin)
        return grant.access_token
    finally:
        # If the lock timed out first, the value written is still good.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()


def access_token_forget(*, account: WechatAccount) -> None:
    _local.pop(_local_key(account), None)
    cache_redis().delete(_key(account))


def with_access_token(*, account: WechatAccount, call: Callable[[str], _T]) -> _T:
    """Run ``call(token)``; if WeChat says the token is invalid, refresh once and run it again."""
    token = access_token_get(account=account)
    try:
        return call(token)
    except InvalidTokenError:
        return call(access_token_get(account=account, rejected=token))
