import time

from apps.wechat.models import WechatAccount, WechatContact

# Every callback looks its account up; a few seconds of staleness after an admin edit is fine.
_ACCOUNT_TTL = 10.0
_accounts: dict[tuple[str, str], tuple[float, WechatAccount | None]] = {}


def account_active_get(*, kind: str, app_id: str) -> WechatAccount | None:
    key = (kind, app_id)
    hit = _accounts.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    account = WechatAccount.objects.filter(kind=kind, app_id=app_id, is_active=True).first()
    if len(_accounts) > 1000:
        _accounts.clear()  # only unknown app ids probed at random could grow it
    _accounts[key] = (time.monotonic() + _ACCOUNT_TTL, account)
    return account


def account_cache_clear() -> None:
    _accounts.clear()


def contact_for_customer(*, channel: str, external_id: str) -> WechatContact | None:
    return (
        WechatContact.objects.select_related("account")
        .filter(customer__channel=channel, customer__external_id=external_id)
        .first()
    )
