"""The one place the bridge calls the desk, with timeouts: POST /api/inbound/messages for text,
POST /api/inbound/messages/media/<kind> (multipart) for a customer's file."""

from typing import Any, Literal

import httpx


class AppError(Exception):
    pass


class TransientAppError(AppError):
    """Worth retrying: the desk is down, slow, or busy."""


class PermanentAppError(AppError):
    """The desk refused this message for good (bad token, invalid payload)."""


class TooLargeAppError(PermanentAppError):
    """The desk refused the file as too large (its limit may be below WeChat's)."""


class AppClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        connect_timeout: float,
        read_timeout: float,
        host: str = "",
        assume_https: bool = False,
        media_timeout: float = 60.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        # Inside docker compose the bridge calls web directly, past the TLS proxy: it must
        # present an allowed Host and the proxy's X-Forwarded-Proto, or production settings
        # answer 400 / redirect to https.
        if host:
            headers["Host"] = host
        if assume_https:
            headers["X-Forwarded-Proto"] = "https"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        )
        # Uploading up to 20 MB, and the desk storing it, takes longer than a text message.
        self._media_timeout = httpx.Timeout(max(read_timeout, media_timeout), connect=connect_timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def post_message(
        self,
        *,
        channel_message_id: str,
        external_user_id: str,
        display_name: str,
        text: str,
        author: Literal["customer", "staff"],
    ) -> dict[str, Any]:
        body = {
            "channel": "wechaty",
            "channel_message_id": channel_message_id,
            "external_user_id": external_user_id,
            "display_name": display_name[:128],
            "text": text,
            "author": author,
        }
        try:
            response = await self._client.post("/api/inbound/messages", json=body)
        except httpx.HTTPError as exc:
            raise TransientAppError(f"desk unreachable: {exc!r}") from exc
        return _answer(response)

    async def post_media(
        self,
        *,
        channel_message_id: str,
        external_user_id: str,
        display_name: str,
        kind: str,
        filename: str,
        data: bytes | None,
        error_code: str = "",
        error: str = "",
    ) -> dict[str, Any]:
        """Upload a customer's file; without ``data``, report why it could not be had (``error_code``)."""
        fields = {
            "channel": "wechaty",
            "channel_message_id": channel_message_id,
            "external_user_id": external_user_id,
            "display_name": display_name[:128],
            "filename": filename[:255],
        }
        files = None
        if data is None:
            fields.update(error_code=error_code or "unavailable", error=error[:500])
            # httpx sends a form without files url-encoded; the desk takes multipart only.
            files = {"_": ("", b"", "application/octet-stream")}
        else:
            files = {"file": (filename or kind, data, "application/octet-stream")}
        try:
            response = await self._client.post(
                f"/api/inbound/messages/media/{kind}", data=fields, files=files, timeout=self._media_timeout
            )
        except httpx.HTTPError as exc:
            raise TransientAppError(f"desk unreachable: {exc!r}") from exc
        if response.status_code == 413:
            raise TooLargeAppError(f"desk refused the {kind} as too large: {response.text[:300]}")
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (200, 202):
        result: dict[str, Any] = response.json()
        return result
    detail = response.text[:300]
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientAppError(f"desk answered {response.status_code}: {detail}")
    raise PermanentAppError(f"desk refused the message ({response.status_code}): {detail}")
