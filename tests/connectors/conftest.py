from collections.abc import Iterator

import pytest

from apps.connectors.models import Connector
from peers.fake_shop import FakeShopProcess
from tests.support.processes import free_port

SECRET = "shop-test-secret"


@pytest.fixture(scope="session")
def shop_process() -> Iterator[FakeShopProcess]:
    shop = FakeShopProcess(port=free_port(), secret=SECRET)
    yield shop
    shop.stop()


@pytest.fixture
def shop(shop_process: FakeShopProcess) -> FakeShopProcess:
    shop_process.control("mode", {"mode": "ok", "latency_ms": 0})
    return shop_process


def bind(shop: FakeShopProcess, order_no: str, owner: str, **extra: object) -> None:
    order = {
        "order_no": order_no,
        "buyer_id": owner,
        "phone_tail": "8899",
        "status": "已发货",
        "title": "羊毛围巾 灰色",
        "created_at": "2026-11-27 10:02",
        "logistics": {"company": "顺丰速运", "tracking_no": "SF1402938475610", "eta": "11月29日"},
        "events": [
            {"time": "2026-11-27 18:30", "desc": "快件已从【杭州转运中心】发出"},
            {"time": "2026-11-28 07:15", "desc": "快件已到达【上海浦东集散中心】"},
        ],
        **extra,
    }
    shop.control("orders", {"orders": [order]})


@pytest.fixture
def connector(shop: FakeShopProcess) -> Connector:
    return Connector.objects.create(name="shop", base_url=shop.url, secret=SECRET, timeout_s=0.8, connect_timeout_s=0.5)
