"""The one place the desk talks to WeChat's HTTP APIs (Official Account and WeCom kf).

Every call has a timeout, and every failure is classified: transient (worth a retry),
permanent (retrying cannot help), quota (permanent, and recorded so nobody retries into it),
or an invalid access_token (refresh once, then retry).
"""

import re
import time
from dataclasses import dataclass, field
from functools import cache
from json import loads as json_loads
from typing import Any, Literal, TypeVar
from urllib.parse import unquote

import httpx
from django.conf import settings
from pydantic import BaseModel, ValidationError

from apps.conversations.channels import MediaUnavailable
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


@cache
def _http() -> httpx.Client:
    timeout = httpx.Timeout(settings.WECHAT_HTTP_READ_TIMEOUT, connect=settings.WECHAT_HTTP_CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, headers={"User-Agent": "wechat-ai-desk"})


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


# --- who a customer is: Official Account user info, WeCom 客服 customer batchget ------------------

KF_BATCHGET_MAX = 100  # external_userids per kf/customer/batchget


class OaUserInfo(BaseModel):
    """An unfollowed user is {"subscribe": 0, "openid"} alone; nickname is "" since 2021; unionid only
    when the account is bound to a WeChat Open Platform account (the same for a kf customer)."""

    subscribe: int = 0
    openid: str
    nickname: str = ""
    unionid: str = ""


class KfCustomer(BaseModel):
    external_userid: str
    nickname: str = ""
    unionid: str = ""


class KfCustomers(BaseModel):
    customer_list: list[KfCustomer] = []
    invalid_external_userid: list[str] = []  # unknown, or silent for over 48 h


def oa_user_info(*, access_token: str, openid: str) -> OaUserInfo:
    params = {"access_token": access_token, "openid": openid, "lang": "zh_CN"}
    return _parse(OaUserInfo, _request("GET", _oa("user/info"), params=params))


def kf_customer_batchget(*, access_token: str, external_userids: list[str]) -> KfCustomers:
    if not 1 <= len(external_userids) <= KF_BATCHGET_MAX:
        raise ValueError(f"kf/customer/batchget takes 1 to {KF_BATCHGET_MAX} ids, not {len(external_userids)}")
    payload = {"external_userid_list": external_userids, "need_enter_session_context": 0}
    data = _request("POST", _wecom("kf/customer/batchget"), params={"access_token": access_token}, json=payload)
    return _parse(KfCustomers, data)


# --- media: customers' files in, agents' files out -------------------------------------------------

Api = Literal["oa", "wecom"]
# media/get answers an unknown or expired media_id (temporary media lives 3 days) with 40007.
INVALID_MEDIA_ID = 40007
# An error answer is a small JSON object.
_ERROR_MAX_BYTES = 4096
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class Download:
    data: bytes = field(repr=False)
    filename: str = ""
    content_type: str = ""


def _api_url(api: Api, path: str) -> str:
    return _wecom(path) if api == "wecom" else _oa(path)


def media_get(*, api: Api, access_token: str, media_id: str, max_bytes: int) -> Download:
    """A temporary media file (cgi-bin/media/get). Raises MediaUnavailable, or InvalidTokenError
    so that with_access_token refreshes the token and asks again."""
    return _download(
        _api_url(api, "media/get"), params={"access_token": access_token, "media_id": media_id}, max_bytes=max_bytes
    )


def url_get(*, url: str, max_bytes: int) -> Download:
    """A file WeChat links to (an Official Account image's PicUrl), with the same limits."""
    if not url.startswith(("https://", "http://")):
        raise MediaUnavailable("not an http(s) link", code="not_found")
    return _download(url, params={}, max_bytes=max_bytes)


def _download(url: str, *, params: dict[str, str], max_bytes: int) -> Download:
    """Stream the body, stopping as soon as it passes ``max_bytes`` or the fetch's time budget:
    a 2 GB answer or a server dripping bytes must cost neither memory nor a worker for long."""
    budget = settings.DESK_MEDIA_FETCH_TIMEOUT_SECONDS
    deadline = time.monotonic() + budget
    timeout = httpx.Timeout(
        min(settings.WECHAT_HTTP_READ_TIMEOUT, budget), connect=settings.WECHAT_HTTP_CONNECT_TIMEOUT
    )
    where = httpx.URL(url).path
    try:
        with _http().stream("GET", url, params=params, timeout=timeout) as response:
            if response.status_code == 404:
                raise MediaUnavailable(f"HTTP 404 from {where}", code="not_found")
            if response.status_code >= 500 or response.status_code == 429:
                raise MediaUnavailable(f"HTTP {response.status_code} from {where}", code="unavailable", retryable=True)
            if response.status_code >= 400:
                raise MediaUnavailable(f"HTTP {response.status_code} from {where}", code="not_found")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaUnavailable(f"{where} announces {declared} bytes", code="too_large")
            chunks: list[bytes] = []
            size = 0
            # As the bytes arrive (no chunk size: httpx would wait to fill one), so the clock is
            # checked at least once per read timeout, which is itself at most the budget.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MediaUnavailable(f"{where} sent more than {max_bytes} bytes", code="too_large")
                if time.monotonic() > deadline:
                    raise MediaUnavailable(f"{where} took longer than {budget:g} s", code="timeout", retryable=True)
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            disposition = response.headers.get("content-disposition", "")
    except httpx.TimeoutException as exc:
        raise MediaUnavailable(f"{type(exc).__name__} fetching {where}", code="timeout", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise MediaUnavailable(f"{type(exc).__name__} fetching {where}", code="unavailable", retryable=True) from exc
    data = b"".join(chunks)
    _raise_for_media_error(data, content_type)
    match = _FILENAME.search(disposition)
    filename = unquote(match.group(1)).strip() if match else ""
    return Download(data=data, filename=filename.rsplit("/", 1)[-1][:255], content_type=content_type)


def _raise_for_media_error(data: bytes, content_type: str) -> None:
    """media/get answers errors as JSON with HTTP 200 (and sometimes Content-Type text/plain)."""
    if (
        len(data) > _ERROR_MAX_BYTES
        or not data.lstrip().startswith(b"{")
        or content_type.startswith(("image/", "audio/", "video/"))
    ):
        return
    try:
        answer = json_loads(data)
    except ValueError:
        return  # a small text file that merely starts with a brace
    errcode = answer.get("errcode") if isinstance(answer, dict) else None
    if not isinstance(errcode, int) or errcode == 0:
        return
    message = f"WeChat error {errcode}: {str(answer.get('errmsg', ''))[:200]}"
    outcome = errcode_outcome(errcode)
    metrics.wechat_api_error(errcode=errcode, outcome=outcome)
    if errcode in INVALID_TOKEN_ERRCODES:
        raise InvalidTokenError(message, errcode=errcode)
    if errcode == INVALID_MEDIA_ID:
        raise MediaUnavailable(message, code="expired")
    if outcome == OUTCOME_RETRY:
        raise MediaUnavailable(message, code="unavailable", retryable=True)
    raise MediaUnavailable(message, code="not_found")


def media_upload(*, api: Api, access_token: str, kind: str, data: bytes, filename: str, content_type: str) -> str:
    """Upload a temporary media file (3 days) and return its media_id; ``kind`` is WeChat's type:
    image, voice, video, file (WeCom only) or thumb (Official Account only)."""
    answer = _request(
        "POST",
        _api_url(api, "media/upload"),
        params={"access_token": access_token, "type": kind},
        files={"media": (filename or f"{kind}.bin", data, content_type or "application/octet-stream")},
    )
    media_id = answer.get("media_id") or answer.get("thumb_media_id")
    if not isinstance(media_id, str) or not media_id:
        raise TransientApiError("media/upload answered without a media_id")
    return media_id


def oa_custom_send_media(*, access_token: str, openid: str, kind: str, media_id: str) -> None:
    """An image, voice note or video through message/custom/send (an Official Account sends no files)."""
    payload = {"touser": openid, "msgtype": kind, kind: {"media_id": media_id}}
    _request("POST", _oa("message/custom/send"), params={"access_token": access_token}, json=payload)


def kf_send_media(
    *, access_token: str, open_kfid: str, external_userid: str, kind: str, media_id: str, msgid: str
) -> None:
    payload = {
        "touser": external_userid,
        "open_kfid": open_kfid,
        "msgid": msgid,
        "msgtype": kind,
        kind: {"media_id": media_id},
    }
    _request("POST", _wecom("kf/send_msg"), params={"access_token": access_token}, json=payload)
