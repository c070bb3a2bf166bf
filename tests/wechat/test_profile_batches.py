"""New customers' profiles in batches (issue 22, docs/performance-plan.md item 4).

A new customer is only marked due; one debounced task asks an Official Account about up to 100 of
them in one cgi-bin/user/info/batchget, with user/info's rules: a name a message gave wins, a
unionid links, 48001 is remembered for a day, a transient failure is retried with backoff.
"""

import logging
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.conversations.models import Customer
from apps.conversations.services import profile as profile_service
from apps.conversations.tasks import customer_profile_fetch, customer_profiles_fetch
from apps.customers.models import Person
from apps.wechat.models import WechatAccount, WechatContact
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import OA_APP_ID
from tests.wechat.signing import oa_post, oa_text_xml

pytestmark = pytest.mark.usefixtures("eager_tasks")

BATCHGET = "/cgi-bin/user/info/batchget"


def due_customers(account: WechatAccount, fake: FakeWeChat, count: int, *, named: bool = True) -> list[Customer]:
    """``count`` Official Account customers as their first messages leave them: a contact, marked due,
    and known to the fake WeChat (with a nickname, as a test may still have it give one)."""
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(channel="official_account", external_id=f"o-batch-{n:04d}", profile_due_at=now) for n in range(count)
    )
    WechatContact.objects.bulk_create(
        WechatContact(account=account, customer=customer, user_id=customer.external_id) for customer in customers
    )
    for n, customer in enumerate(customers):
        fake.users.follow(OA_APP_ID, customer.external_id, nickname=f"用户{n}" if named else "", unionid=f"u-{n}")
    return customers


def batch_calls(fake: FakeWeChat) -> list[list[str]]:
    return [openids for api, openids in fake.users.calls if api == "user/info/batchget"]


def test_150_new_customers_take_two_batchget_calls_and_all_get_their_names(
    oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    customers = due_customers(oa_account, fake_wechat, 150)

    customer_profiles_fetch.apply()  # the leftover 50 are the next batch, enqueued at once

    assert [len(openids) for openids in batch_calls(fake_wechat)] == [100, 50]
    assert [c for api, c in fake_wechat.users.calls if api == "user/info"] == []
    names = dict(Customer.objects.values_list("external_id", "display_name"))
    assert names == {c.external_id: f"用户{n}" for n, c in enumerate(customers)}
    assert not Customer.objects.filter(profile_due_at__isnull=False).exists()
    assert Person.objects.filter(merged_into=None).count() == 150  # every unionid linked


def test_new_customers_within_the_window_share_one_batch(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[tuple[Any, dict[str, Any], bool]] = []

    def record(args: Any = None, **options: Any) -> None:
        enqueued.append((tuple(args or ()), options, connection.in_atomic_block))

    monkeypatch.setattr(customer_profiles_fetch, "apply_async", record)
    openids = [f"o-window-{n}" for n in range(3)]
    for n, openid in enumerate(openids):
        fake_wechat.users.follow(OA_APP_ID, openid, nickname=f"访客{n}")
        fake_wechat.user_wrote(openid)
        assert oa_post(client, oa_text_xml(openid=openid, msg_id=f"20{n}", content="你好")).content == b"success"  # type: ignore[attr-defined]

    assert enqueued == [((), {"countdown": 2}, False)]  # one batch for the three, after commit
    monkeypatch.undo()
    customer_profiles_fetch.apply(args=enqueued[0][0])

    assert batch_calls(fake_wechat) == [openids]
    assert sorted(Customer.objects.values_list("display_name", flat=True)) == ["访客0", "访客1", "访客2"]


def test_a_name_a_message_gave_is_not_overwritten(oa_account: WechatAccount, fake_wechat: FakeWeChat) -> None:
    given, unnamed = due_customers(oa_account, fake_wechat, 2)
    Customer.objects.filter(pk=given.pk).update(display_name="张三（会员）")  # from a message, before the batch

    customer_profiles_fetch.apply()

    assert batch_calls(fake_wechat) == [[given.external_id, unnamed.external_id]]
    assert Customer.objects.get(pk=given.pk).display_name == "张三（会员）"
    assert Customer.objects.get(pk=unnamed.pk).display_name == "用户1"
    assert Person.objects.filter(unionid="u-0").exists()  # the unionid still links


def test_an_account_that_may_not_read_users_is_asked_once_a_day_not_per_batch(
    oa_account: WechatAccount, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    fake_wechat.unverified.add(OA_APP_ID)  # 48001 to user/info/batchget
    first, second = due_customers(oa_account, fake_wechat, 2)
    Customer.objects.filter(pk=second.pk).update(profile_due_at=None)  # comes later

    with caplog.at_level(logging.INFO, logger="apps.wechat.profiles"):
        customer_profiles_fetch.apply()
        assert Customer.objects.get(pk=first.pk).profile_due_at is None  # settled: 48001 is not retried
        Customer.objects.filter(pk=second.pk).update(profile_due_at=timezone.now())
        customer_profiles_fetch.apply()

    refused = [r for r in caplog.records if r.name == "apps.wechat.profiles" and "48001" in r.getMessage()]
    assert len(refused) == 1  # the second batch did not ask
    assert not Customer.objects.filter(profile_due_at__isnull=False).exists()  # neither is left due
    assert set(Customer.objects.values_list("display_name", flat=True)) == {""}
    assert not Person.objects.exists()


def test_a_transient_failure_is_retried_with_backoff_and_the_names_arrive(
    oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    customers = due_customers(oa_account, fake_wechat, 3)
    fake_wechat.fail_next(BATCHGET)  # HTTP 502 once

    with pytest.raises(Retry) as retry:
        customer_profiles_fetch.apply()
    assert retry.value.when == 2  # seconds, doubling with each try
    again = retry.value.sig  # type: ignore[attr-defined]  # the retry's signature (celery's stubs lack it)
    assert again.args == ([c.pk for c in customers],)  # by ids: a later batch is not held back
    assert fake_wechat.users.calls == []
    assert not Customer.objects.filter(profile_due_at=None).exists()  # still due, leased to the retry

    again.apply()

    assert batch_calls(fake_wechat) == [[c.external_id for c in customers]]  # the 502 never reached the users
    assert sorted(Customer.objects.values_list("display_name", flat=True)) == ["用户0", "用户1", "用户2"]
    assert not Customer.objects.filter(profile_due_at__isnull=False).exists()


def test_an_openid_wechat_does_not_know_costs_only_its_own_profile(
    oa_account: WechatAccount, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    known, stranger, other = due_customers(oa_account, fake_wechat, 3)
    del fake_wechat.users.oa[(OA_APP_ID, stranger.external_id)]

    with caplog.at_level(logging.WARNING, logger="apps.conversations.services.profile"):
        customer_profiles_fetch.apply()

    # batchget refuses all three (40003); asked one at a time, only the stranger is refused.
    ids = [known.external_id, stranger.external_id, other.external_id]
    assert fake_wechat.users.calls == [("user/info/batchget", ids)] + [("user/info", i) for i in ids]
    assert Customer.objects.get(pk=known.pk).display_name == "用户0"
    assert Customer.objects.get(pk=other.pk).display_name == "用户2"
    assert Customer.objects.get(pk=stranger.pk).display_name == ""
    assert f"customer {stranger.pk}" in caplog.text
    assert "40003" in caplog.text
    assert not Customer.objects.filter(profile_due_at__isnull=False).exists()


def test_a_customer_another_batch_holds_is_skipped(oa_account: WechatAccount, fake_wechat: FakeWeChat) -> None:
    (customer,) = due_customers(oa_account, fake_wechat, 1)
    # A concurrent batch leased it (due again only after the lease): this one leaves it alone.
    Customer.objects.filter(pk=customer.pk).update(profile_due_at=timezone.now() + profile_service._LEASE)

    customer_profiles_fetch.apply()

    assert fake_wechat.users.calls == []
    assert Customer.objects.get(pk=customer.pk).display_name == ""


def test_a_profile_task_queued_before_the_batches_still_gets_the_profile(
    oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    (customer,) = due_customers(oa_account, fake_wechat, 1)
    Customer.objects.filter(pk=customer.pk).update(profile_due_at=None)  # as the release before left them

    customer_profile_fetch.apply(args=(customer.pk,))

    assert batch_calls(fake_wechat) == [[customer.external_id]]
    assert Customer.objects.get(pk=customer.pk).display_name == "用户0"


def test_a_batch_lost_with_its_task_is_scheduled_again_by_the_sweeper(
    oa_account: WechatAccount, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.conversations.services import messages_sweep

    enqueued: list[dict[str, Any]] = []
    monkeypatch.setattr(customer_profiles_fetch, "apply_async", lambda *a, **options: enqueued.append(options))
    fresh, lost = due_customers(oa_account, fake_wechat, 2)
    Customer.objects.filter(pk=fresh.pk).update(profile_due_at=None)  # already asked

    messages_sweep()  # due only a moment ago: its own batch may still be on its way
    assert enqueued == []

    Customer.objects.filter(pk=lost.pk).update(profile_due_at=timezone.now() - timedelta(minutes=10))
    messages_sweep()
    messages_sweep()  # within the debounce window: still one batch
    assert enqueued == [{"args": (), "countdown": 2}]

    monkeypatch.undo()
    customer_profiles_fetch.apply()
    assert Customer.objects.get(pk=lost.pk).display_name == "用户1"
