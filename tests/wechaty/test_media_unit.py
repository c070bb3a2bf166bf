"""The bridge's media helpers without the SDK: a FileBox's bytes, within WeChat's limits."""

import asyncio
import base64
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx
import pytest

from workers.wechaty_bridge.media import MediaError, file_box_bytes


class BoxType(Enum):  # the names of wechaty_puppet's FileBoxType
    Base64 = 1
    Url = 2
    QRCode = 3


@dataclass
class Box:
    kind: BoxType
    base64: bytes = b""
    remoteUrl: str = ""  # the SDK's attribute name
    headers: dict[str, str] = field(default_factory=dict)

    def type(self) -> BoxType:
        return self.kind


def read(box: Box, *, limit: int = 1024, handler: Any = None) -> bytes:
    async def _run() -> bytes:
        transport = httpx.MockTransport(handler or (lambda request: httpx.Response(500)))
        async with httpx.AsyncClient(transport=transport) as http:
            return await file_box_bytes(box, limit=limit, http=http)

    return asyncio.run(_run())


def test_a_base64_box_is_decoded_and_an_oversized_one_refused_before_decoding() -> None:
    assert read(Box(BoxType.Base64, base64=base64.b64encode(b"hello"))) == b"hello"
    with pytest.raises(MediaError) as too_large:
        read(Box(BoxType.Base64, base64=base64.b64encode(b"x" * 2048)))
    assert too_large.value.code == "too_large"


def test_a_url_box_is_downloaded_with_its_headers_and_a_size_limit() -> None:
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 4096)
        if request.url.path == "/gone":
            return httpx.Response(404)
        return httpx.Response(200, content=b"\xff\xd8\xff image")

    box = Box(BoxType.Url, remoteUrl="https://cdn.example/img", headers={"Cookie": "k=v"})
    assert read(box, handler=cdn) == b"\xff\xd8\xff image"
    assert seen[0].headers["Cookie"] == "k=v"
    for path, code in (("/big", "too_large"), ("/gone", "not_found")):
        with pytest.raises(MediaError) as refused:
            read(Box(BoxType.Url, remoteUrl=f"https://cdn.example{path}"), handler=cdn)
        assert refused.value.code == code
    # A CDN error is worth another try: not a MediaError, which is final.
    with pytest.raises(RuntimeError):
        read(Box(BoxType.Url, remoteUrl="https://cdn.example/x"), handler=lambda r: httpx.Response(503))


def test_a_box_without_content_is_unavailable() -> None:
    with pytest.raises(MediaError) as refused:
        read(Box(BoxType.QRCode))
    assert refused.value.code == "unavailable"
