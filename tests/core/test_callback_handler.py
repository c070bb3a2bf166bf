"""WeChat's callbacks go through a handler with a short middleware list (project/callbacks.py);
every other page keeps the full one."""

import pytest
from channels.testing import HttpCommunicator

from project.asgi import application


async def _get(path: str, host: str = "localhost") -> dict[str, object]:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", host.encode())])
    response = await communicator.get_response(timeout=10)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return {"status": response["status"], "headers": headers, "body": response["body"]}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_callback_skips_the_consoles_middleware_but_keeps_its_request_id() -> None:
    callback = await _get("/wechat/oa/wx-no-such-account/")
    page = await _get("/healthz")

    # Unsigned: refused by the callback view itself, as any unsigned callback is.
    assert callback["status"] == 403
    assert callback["body"] == b"forbidden"
    headers = callback["headers"]
    assert isinstance(headers, dict)
    assert headers.get("x-request-id")
    # The console's clickjacking header comes from a middleware the callbacks do not run.
    assert "x-frame-options" not in headers
    page_headers = page["headers"]
    assert isinstance(page_headers, dict)
    assert "x-frame-options" in page_headers
    assert page_headers.get("x-request-id")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_callback_for_a_host_not_allowed_is_refused() -> None:
    # CommonMiddleware checks ALLOWED_HOSTS for the console; the callback wrapper does it itself.
    callback = await _get("/wechat/oa/wx-no-such-account/", host="evil.example")

    assert callback["status"] == 400
