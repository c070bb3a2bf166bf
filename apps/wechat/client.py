"""The one place the desk talks to WeChat's HTTP APIs (Official Account and WeCom kf).

Every call has a timeout, and every failure is classified: transient (worth a retry),
permanent (retrying cannot help), quota (permanent, and recorded so nobody retries into it),
or an invalid access_token (refresh once, then retry).
"""

from functools import cache
from typing import Any, TypeVar

import httpx
from django.conf import settings
from pydantic import BaseModel, ValidationError

# 45015: the 48 h reply window is closed; 45047: the reply count within it is used up.
QUOTA_ERRCODES = frozenset({45015, 45047})
INVALID_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# -1: system busy; 45009/45011: API call frequency limits, which lift with time.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})


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


class KfSyncPage(BaseModel):
    next_cursor: str = ""
    has_more: int = 0
    msg_list: list[KfMessage] = []


@cache
def _http() -> httpx.Client:
    timeout = httpx.Timeout(settings.WECHAT_HTTP_READ_TIMEOUT, connect=settings.WECHAT_HTTP_CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, headers={"User-Agent": "wechat-ai-desk"})


def _raise_for_errcode(data: dict[str, Any]) -> None:
    errcode = data.get("errcode", 0)
    if not isinstance(errcode, int) or errcode == 0:
        return
    message = f"WeChat error {errcode}: {str(data.get('errmsg', ''))[:200]}"
    if errcode in QUOTA_ERRCODES:
        raise QuotaApiError(message, errcode=errcode)
    if errcode in INVALID_TOKEN_ERRCODES:
        raise InvalidTokenError(message, errcode=errcode)
    if errcode in TRANSIENT_ERRCODES:
        raise TransientApiError(message, errcode=errcode)
    raise PermanentApiError(message, errcode=errcode)


def _request(method: str, url: str, *, params: dict[str, str], json: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = _http().request(method, url, params=params, json=json)
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


def kf_service_state_trans(
    *, access_token: str, open_kfid: str, external_userid: str, service_state: int, servicer_userid: str = ""
) -> None:
    payload: dict[str, Any] = {
        "open_kfid": open_kfid,
        "external_userid": external_userid,
        "service_state": service_state,
    }
    if servicer_userid:
        payload["servicer_userid"] = servicer_userid
    _request("POST", _wecom("kf/service_state/trans"), params={"access_token": access_token}, json=payload)
