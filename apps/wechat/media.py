"""Customers' media on WeChat: what a callback or sync page says about a file, and fetching it.

A message only references its file (a media_id good for 3 days, an Official Account image's
PicUrl too); the processing task fetches it later through the channel adapter's fetch_media.
The reference carries the account (``app_id``), so fetching needs no contact lookup.
"""

from typing import Any

from apps.conversations.channels import FetchedMedia, MediaUnavailable
from apps.wechat import client
from apps.wechat.client import Api
from apps.wechat.models import WechatAccount
from apps.wechat.selectors import account_active_get
from apps.wechat.tokens import with_access_token

_KINDS: dict[Api, str] = {"oa": WechatAccount.Kind.OFFICIAL_ACCOUNT, "wecom": WechatAccount.Kind.WECOM_KF}


def media_source(*, account: WechatAccount, media_id: str, **extra: str) -> dict[str, Any]:
    """The reference stored on the attachment; empty values are left out."""
    return {"app_id": account.app_id, "media_id": media_id, **{key: value for key, value in extra.items() if value}}


def media_fetch(*, api: Api, source: dict[str, Any], max_bytes: int) -> FetchedMedia:
    """The file behind ``source``: media/get, then the PicUrl if WeChat no longer has the media_id."""
    media_id = str(source.get("media_id") or "")
    pic_url = str(source.get("pic_url") or "")
    try:
        if not media_id:
            raise MediaUnavailable("the message names no media_id", code="not_found")
        download = _media_get(api=api, app_id=str(source.get("app_id") or ""), media_id=media_id, max_bytes=max_bytes)
    except MediaUnavailable as exc:
        # PicUrl is WeChat's own copy of the picture: worth it only when media/get cannot succeed later.
        if exc.retryable or exc.code == "too_large" or not pic_url:
            raise
        download = client.url_get(url=pic_url, max_bytes=max_bytes)
    return FetchedMedia(data=download.data, filename=download.filename)


def _media_get(*, api: Api, app_id: str, media_id: str, max_bytes: int) -> client.Download:
    account = account_active_get(kind=_KINDS[api], app_id=app_id)
    if account is None:
        raise MediaUnavailable(f"no active account {app_id!r} to fetch media with", code="unavailable")
    try:
        return with_access_token(
            account=account,
            call=lambda token: client.media_get(api=api, access_token=token, media_id=media_id, max_bytes=max_bytes),
        )
    except client.TransientApiError as exc:  # the access_token could not be had, for now
        raise MediaUnavailable(str(exc), code="unavailable", retryable=True) from exc
    except client.PermanentApiError as exc:
        raise MediaUnavailable(str(exc), code="unavailable") from exc
