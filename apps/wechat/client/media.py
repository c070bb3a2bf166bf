"""Media through WeChat's HTTP APIs: customers' files in (media/get, picture URLs), agents' files
out (media/upload, then a custom-send or kf/send_msg naming the media_id)."""

import re
import time
from dataclasses import dataclass, field
from json import loads as json_loads
from typing import Literal
from urllib.parse import unquote

import httpx
from django.conf import settings

from apps.conversations.channels import MediaUnavailable
from apps.core import metrics
from apps.wechat.client.http import (
    INVALID_TOKEN_ERRCODES,
    OUTCOME_RETRY,
    InvalidTokenError,
    TransientApiError,
    _http,
    _oa,
    _request,
    _wecom,
    errcode_outcome,
)

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
