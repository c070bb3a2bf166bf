"""Scoped API tokens, Redis token buckets and PII masking in logs."""

import logging
import uuid

import pytest

from apps.core.logging import PiiMaskingFilter, mask_pii
from apps.core.models import ApiToken
from apps.core.ratelimit import TokenBucket
from apps.core.services import api_token_authenticate, api_token_create, api_token_revoke


@pytest.mark.django_db
class TestApiTokens:
    def test_a_token_is_stored_only_as_a_hash_and_authenticates_its_scope(self) -> None:
        issued = api_token_create(name="bridge", scopes=["inbound"], created_by_id=None)

        stored = ApiToken.objects.get()
        assert issued.plaintext not in (stored.token_hash, stored.prefix)
        assert api_token_authenticate(raw=issued.plaintext, scope="inbound") == stored
        assert stored.last_used_at is None
        stored.refresh_from_db()
        assert stored.last_used_at is not None

    def test_a_wrong_scope_a_wrong_token_or_a_revoked_token_is_refused(self) -> None:
        issued = api_token_create(name="bridge", scopes=["inbound"], created_by_id=None)

        assert api_token_authenticate(raw=issued.plaintext, scope="reports") is None
        assert api_token_authenticate(raw=issued.plaintext[:-1] + "x", scope="inbound") is None
        assert api_token_authenticate(raw="not-a-token", scope="inbound") is None
        api_token_revoke(token=issued.token)
        assert api_token_authenticate(raw=issued.plaintext, scope="inbound") is None

    def test_unknown_scopes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown scopes: admin"):
            api_token_create(name="x", scopes=["admin"], created_by_id=None)


def test_a_bucket_allows_its_capacity_then_refuses_then_refills() -> None:
    bucket = TokenBucket(name=f"t-{uuid.uuid4().hex[:6]}", capacity=5, per_second=50)

    burst = [bucket.take("cust-1").allowed for _ in range(8)]
    assert burst == [True] * 5 + [False] * 3
    assert bucket.take("cust-2").allowed, "buckets are per key"

    import time

    time.sleep(0.1)  # 50/s refills at least 4 tokens
    assert bucket.take("cust-1").allowed


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的手机是13812345678，", "我的手机是138****5678，"),
        ("身份证 11010519491231002X 谢谢", "身份证 110105********002X 谢谢"),
        ("卡号6222021234567890128", "卡号6222********0128"),
        ("卡号 6222 0212 3456 7890 128", "卡号 6222********0128"),
        (
            "卡号6222021234567890123 (Luhn fails: a typo or no card)",
            "卡号6222021234567890123 (Luhn fails: a typo or no card)",
        ),
        ("订单号 20261125 不变", "订单号 20261125 不变"),
    ],
)
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_the_log_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "customer said %s", ("call 13812345678",), None)
    try:
        raise ValueError("id 11010519491231002X")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()

    PiiMaskingFilter().filter(record)

    assert record.getMessage() == "customer said call 138****5678"
    assert record.exc_text is not None
    assert "11010519491231002X" not in record.exc_text
