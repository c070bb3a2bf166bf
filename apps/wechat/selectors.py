import time

from django.db.models import Exists, QuerySet

from apps.conversations.channels import ChannelAccount
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


def contact_for_reply(*, channel: str, external_id: str, message_id: int) -> WechatContact | None:
    """contact_for_customer, and in the same round trip whether the reply ``message_id`` is parked
    for a passive reply (``parked``): an Official Account's send asks both for every reply."""
    from apps.wechat.models import OaPassiveReply

    return (
        WechatContact.objects.select_related("account")
        .filter(customer__channel=channel, customer__external_id=external_id)
        .annotate(parked=Exists(OaPassiveReply.objects.filter(message_id=message_id)))
        .first()
    )


def channel_accounts(*, kind: str) -> list[ChannelAccount]:
    """The console's account filter: every account of the kind, inactive ones too (their
    conversations stay), keyed by AppID / CorpID (unique per kind, and stable across databases)."""
    found = WechatAccount.objects.filter(kind=kind).order_by("name", "pk").values_list("app_id", "name")
    return [ChannelAccount(key=app_id, label=name) for app_id, name in found]


def account_customers(*, kind: str, channel: str, app_id: str) -> QuerySet[WechatContact, str]:
    """The external ids of the channel's customers who wrote to the account (a lazy subquery).

    A WeCom corp's several kf accounts (open_kfid) count as one account: the WechatAccount, which
    holds the credentials and the welcome and closing texts, is what an agent knows them by.
    """
    return WechatContact.objects.filter(
        account__kind=kind, account__app_id=app_id, customer__channel=channel
    ).values_list("customer__external_id", flat=True)
