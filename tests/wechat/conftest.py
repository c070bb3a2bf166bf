"""Fixtures for the WeChat channels: a fake WeChat API server on loopback and accounts."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from apps.wechat.models import WechatAccount
from apps.wechat.selectors import account_cache_clear
from peers.fake_wechat import FakeWeChat, serve

OA_APP_ID = "wx1234567890abcdef"
OA_TOKEN = "oa-callback-token"
# 43 characters, as WeChat's console generates them.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP_ID = "ww0123456789abcdef"
KF_TOKEN = "kf-callback-token"


@pytest.fixture(autouse=True)
def _instant_pipeline(settings: pytest.FixtureRequest) -> None:
    """Channel tests measure the channel: the echo answerer and allow-all moderator answer instantly."""
    from apps.conversations.pipeline import get_answerer, get_moderator

    settings.DESK_ANSWERER = "apps.conversations.placeholders.EchoAnswerer"  # type: ignore[attr-defined]
    settings.DESK_MODERATOR = "apps.conversations.placeholders.AllowAllModerator"  # type: ignore[attr-defined]
    get_answerer.cache_clear()
    get_moderator.cache_clear()
    account_cache_clear()  # accounts are re-created by every test


@pytest.fixture(autouse=True)
def _callback_threads_do_not_keep_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Callback views run on pooled threads that keep their connection open (CONN_MAX_AGE);
    in tests those would keep the test database busy at teardown."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def fake_wechat(settings: pytest.FixtureRequest) -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    server = serve(fake)
    settings.WECHAT_OA_API_BASE_URL = fake.url  # type: ignore[attr-defined]
    settings.WECHAT_WECOM_API_BASE_URL = fake.url  # type: ignore[attr-defined]
    # Tokens cached by an earlier test belong to an earlier fake.
    client = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}")  # type: ignore[attr-defined]
    for key in client.scan_iter("wechat:*"):
        client.delete(key)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def oa_account(db: None) -> WechatAccount:
    return WechatAccount.objects.create(
        kind=WechatAccount.Kind.OFFICIAL_ACCOUNT,
        name="测试公众号",
        app_id=OA_APP_ID,
        secret="oa-app-secret",
        token=OA_TOKEN,
        encoding_aes_key=AES_KEY,
    )


@pytest.fixture
def kf_account(db: None) -> WechatAccount:
    return WechatAccount.objects.create(
        kind=WechatAccount.Kind.WECOM_KF,
        name="测试客服",
        app_id=CORP_ID,
        secret="kf-secret",
        token=KF_TOKEN,
        encoding_aes_key=AES_KEY,
    )


@pytest.fixture
def wechat_rules() -> dict[str, int]:
    return {"max_bytes": settings.WECHAT_TEXT_MAX_BYTES, "budget": settings.WECHAT_REPLY_BUDGET}


@pytest.fixture
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Customer media is written (encrypted) under MEDIA_ROOT: a test's own folder, not the repo's."""
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    return tmp_path / "media"
