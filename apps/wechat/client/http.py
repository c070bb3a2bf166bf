"""Requests, tokens, messages and kf sessions: the core of the WeChat client (apps.wechat.client).

Every call has a timeout, and every failure is classified: transient (worth a retry),
permanent (retrying cannot help), quota (permanent, and recorded so nobody retries into it),
or an invalid access_token (refresh once, then retry).
"""

from functools import cache
from typing import Any, TypeVar

import httpx
from django.conf import settings
from pydantic import BaseModel, ValidationError

from apps.core import metrics

# Every error code of a send maps to one outcome (docs/architecture.md, "WeChat errors as data"):
# 45015 / 95002: the 48 h reply window is closed; 45047 / 95001: the replies allowed in it are used
# up. Nobody retries into these; the customer needs a person once they write again.
QUOTA_ERRCODES = frozenset({45015, 45047, 95001, 95002})
INVALID_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# -1: system busy; 45009/45011: API call frequency limits, which lift with time.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})
# WeCom 客服: the session is not the desk's to write in (95013 ended, 95018 a servicer or the pool
# has it): hand to a person. 95016: a state move WeCom does not allow.
STATE_ERRCODES = frozenset({95013, 95016, 95018})
OUTCOME_RETRY, OUTCOME_REFRESH, OUTCOME_HAND_OVER, OUTCOME_GIVE_UP = "retry", "refresh_token", "hand_over", "give_up"


def errcode_outcome(errcode: int) -> str:
    """What the desk does about a WeChat error code: anything not listed gives up, customer untouched
    (an invalid or unfollowed user 40003/43004/46004, content refused 45002/87014, a used code...)."""
    if errcode in TRANSIENT_ERRCODES:
        return OUTCOME_RETRY
    if errcode in INVALID_TOKEN_ERRCODES:
        return OUTCOME_REFRESH
    if errcode in QUOTA_ERRCODES or errcode in STATE_ERRCODES:
        return OUTCOME_HAND_OVER
    return OUTCOME_GIVE_UP


class WeChatApiError(Exception):
    def __init__(self, message: str, *, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class TransientApiError(WeChatApiError):
    pass


class PermanentApiError(WeChatApiError):
    pass


class QuotaApiError(PermanentApiError):
    pass


class InvalidTokenError(TransientApiError):
    pass


class StateApiError(PermanentApiError):
    """The WeCom 客服 session's state does not allow the call."""


class TokenGrant(BaseModel):
    access_token: str
    expires_in: int


class KfMessage(BaseModel, extra="allow"):
    msgid: str
    open_kfid: str = ""
    external_userid: str = ""
    send_time: int = 0
    # 3: sent by the customer; 4: system event; 5: sent by a servicer from the WeCom client.
    origin: int = 0
    msgtype: str = ""
    text: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    # Who typed it, for origin 5 (a WeCom servicer in the WeCom client).
    servicer_userid: str = ""


class KfServiceState(BaseModel):
    service_state: int
    servicer_userid: str = ""


class KfSyncPage(BaseModel):
    next_cursor: str = ""
    has_more: int = 0
    msg_list: list[KfMessage] = []


# The llm worker's threads (DESK_LLM_CONCURRENCY, 256 by default) each send their replies inline:
# httpx's default pool keeps 20 idle connections, so with 40-60 sends in flight most of them opened
# a new connection (getaddrinfo, TCP, TLS). Every sender gets a connection without waiting for one.
_MAX_CONNECTIONS = 256
_MAX_KEEPALIVE = 128


@cache
def _http() -> httpx.Client:
    timeout = httpx.Timeout(settings.WECHAT_HTTP_READ_TIMEOUT, connect=settings.WECHAT_HTTP_CONNECT_TIMEOUT)
    limits = httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE)
    return httpx.Client(timeout=timeout, limits=limits, headers={"User-Agent": "wechat-ai-desk"})


def _raise_for_errcode(data: dict[str, Any]) -> None:
    errcode = data.get("errcode", 0)
    if not isinstance(errcode, int) or errcode == 0:
        return
    message = f"WeChat error {errcode}: {str(data.get('errmsg', ''))[:200]}"
    metrics.wechat_api_error(errcode=errcode, outcome=errcode_outcome(errcode))
    if errcode in STATE_ERRCODES:
        raise StateApiError(message, errcode=errcode)
    if errcode in QUOTA_ERRCODES:
        raise QuotaApiError(message, errcode=errcode)
    if errcode in INVALID_TOKEN_ERRCODES:
        raise InvalidTokenError(message, errcode=errcode)
    if errcode in TRANSIENT_ERRCODES:
        raise TransientApiError(message, errcode=errcode)
    raise PermanentApiError(message, errcode=errcode)


def _request(
    method: str,
    url: str,
    *,
    params: dict[str, str],
    json: dict[str, Any] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> dict[str, Any]:
    try:
        response = _http().request(method, url, params=params, json=json, files=files)
    except httpx.HTTPError as exc:
        raise TransientApiError(f"{type(exc).__name__} calling {httpx.URL(url).path}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientApiError(f"HTTP {response.status_code} from {httpx.URL(url).path}")
    if response.status_code >= 400:
        raise PermanentApiError(f"HTTP {response.status_code} from {httpx.URL(url).path}")
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientApiError(f"non-JSON answer from {httpx.URL(url).path}") from exc
    if not isinstance(data, dict):
        raise TransientApiError(f"unexpected answer from {httpx.URL(url).path}")
    _raise_for_errcode(data)
    return data


def _oa(path: str) -> str:
    return f"{settings.WECHAT_OA_API_BASE_URL.rstrip('/')}/cgi-bin/{path}"


def _wecom(path: str) -> str:
    return f"{settings.WECHAT_WECOM_API_BASE_URL.rstrip('/')}/cgi-bin/{path}"


_Model = TypeVar("_Model", bound=BaseModel)


def _parse(model: type[_Model], data: dict[str, Any]) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise TransientApiError(f"unexpected {model.__name__} shape: {exc.error_count()} errors") from exc


def oa_token_fetch(*, app_id: str, secret: str) -> TokenGrant:
    data = _request("GET", _oa("token"), params={"grant_type": "client_credential", "appid": app_id, "secret": secret})
    return _parse(TokenGrant, data)


def wecom_token_fetch(*, corp_id: str, secret: str) -> TokenGrant:
    data = _request("GET", _wecom("gettoken"), params={"corpid": corp_id, "corpsecret": secret})
    return _parse(TokenGrant, data)


def oa_custom_send_text(*, access_token: str, openid: str, content: str) -> None:
    payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
    _request("POST", _oa("message/custom/send"), params={"access_token": access_token}, json=payload)


def kf_sync_msg(*, access_token: str, open_kfid: str, cursor: str, callback_token: str, limit: int) -> KfSyncPage:
    payload: dict[str, Any] = {"open_kfid": open_kfid, "limit": min(max(limit, 1), 1000)}
    if cursor:
        payload["cursor"] = cursor
    if callback_token:
        payload["token"] = callback_token
    data = _request("POST", _wecom("kf/sync_msg"), params={"access_token": access_token}, json=payload)
    return _parse(KfSyncPage, data)


def kf_send_text(*, access_token: str, open_kfid: str, external_userid: str, content: str, msgid: str) -> None:
    payload = {
        "touser": external_userid,
        "open_kfid": open_kfid,
        # Our own id (<= 32 chars of [0-9A-Za-z_-]) so WeChat's records match ours.
        "msgid": msgid,
        "msgtype": "text",
        "text": {"content": content},
    }
    _request("POST", _wecom("kf/send_msg"), params={"access_token": access_token}, json=payload)


def kf_service_state_get(*, access_token: str, open_kfid: str, external_userid: str) -> KfServiceState:
    payload = {"open_kfid": open_kfid, "external_userid": external_userid}
    data = _request("POST", _wecom("kf/service_state/get"), params={"access_token": access_token}, json=payload)
    return _parse(KfServiceState, data)


def kf_send_msg_on_event(*, access_token: str, code: str, message: dict[str, Any], msgid: str = "") -> None:
    """Answer an event (welcome, session change, end) with its single-use code: text or msgmenu."""
    payload: dict[str, Any] = {"code": code, **message}
    if msgid:
        payload["msgid"] = msgid
    _request("POST", _wecom("kf/send_msg_on_event"), params={"access_token": access_token}, json=payload)


def kf_service_state_trans(
    *, access_token: str, open_kfid: str, external_userid: str, service_state: int, servicer_userid: str = ""
) -> str:
    """Move the session; returns the msg_code WeCom hands for a reply/closing message ("" if none)."""
    payload: dict[str, Any] = {
        "open_kfid": open_kfid,
        "external_userid": external_userid,
        "service_state": service_state,
    }
    if servicer_userid:
        payload["servicer_userid"] = servicer_userid
    data = _request("POST", _wecom("kf/service_state/trans"), params={"access_token": access_token}, json=payload)
    return str(data.get("msg_code") or "")
