import time
from dataclasses import dataclass
from functools import cache

from django.db import connection, models
from django.db.models import QuerySet

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


@dataclass(frozen=True)
class ReplyContact:
    contact: WechatContact  # and its account: only the columns a send reads (the rest deferred)
    parked: bool  # the reply is parked for an Official Account's passive reply
    attempts: int | None  # the reply's delivery attempts so far, this one included (None: no such row)


_REPLY_CONTACT_FIELDS = (
    "id",
    "account_id",
    "customer_id",
    "open_kfid",
    "user_id",
    "window_opened_at",
    "sent_in_window",
    "quota_error_at",
    "quota_error_code",
    "kf_state",
)
# Not the credentials: decrypting them costs more than the statement, and only a token fetch
# (a few times a day) reads them, through Django's deferred loading.
_REPLY_ACCOUNT_FIELDS = ("id", "kind", "name", "app_id", "is_active", "reply_mode", "passive_since", "passive_reason")


def _in_model_order(model: type[models.Model], names: tuple[str, ...]) -> list[str]:
    # Model.from_db maps a subset of the columns in the model's own field order.
    return [field.attname for field in model._meta.concrete_fields if field.attname in names]


@cache
def _reply_contact_query() -> tuple[str, list[str], list[str]]:
    from apps.conversations.models import Customer, Message
    from apps.wechat.models import OaPassiveReply

    contact_names = _in_model_order(WechatContact, _REPLY_CONTACT_FIELDS)
    account_names = _in_model_order(WechatAccount, _REPLY_ACCOUNT_FIELDS)
    columns = ", ".join([*(f"w.{name}" for name in contact_names), *(f"a.{name}" for name in account_names)])
    sql = (
        f"SELECT {columns}, "  # noqa: S608 (table names from the models, values as parameters)
        f"EXISTS (SELECT 1 FROM {OaPassiveReply._meta.db_table} p WHERE p.message_id = %s), "
        f"(SELECT m.attempts FROM {Message._meta.db_table} m WHERE m.id = %s) "
        f"FROM {WechatContact._meta.db_table} w JOIN {Customer._meta.db_table} c ON c.id = w.customer_id "
        f"JOIN {WechatAccount._meta.db_table} a ON a.id = w.account_id "
        # As contact_for_customer's first(): the oldest contact, should a customer have several.
        "WHERE c.channel = %s AND c.external_id = %s ORDER BY w.id LIMIT 1"
    )
    return sql, contact_names, account_names


def contact_for_reply(*, channel: str, external_id: str, message_id: int) -> ReplyContact | None:
    """The customer's contact as a send needs it, in one raw statement (an ORM query with a join
    and an annotation cost more to compile than Postgres takes to run it): the window's counters,
    whether the reply ``message_id`` is parked for a passive reply, and its attempts so far. The
    account is read with it, not cached: a change of its reply mode applies to the next send."""
    sql, contact_names, account_names = _reply_contact_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [message_id, message_id, channel, external_id])
        row = cursor.fetchone()
    if row is None:
        return None
    end = len(contact_names)
    contact = WechatContact.from_db(connection.alias, contact_names, row[:end])
    start, end = end, end + len(account_names)
    contact.account = WechatAccount.from_db(connection.alias, account_names, row[start:end])
    return ReplyContact(contact=contact, parked=bool(row[end]), attempts=row[end + 1])


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
