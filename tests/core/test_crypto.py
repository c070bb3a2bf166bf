"""AES-256-GCM at rest: round trips, key ids, context binding, clear errors for bad keys."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core import crypto

RING = crypto.parse_keys(f"{crypto.new_key_spec('new')},{crypto.new_key_spec('old')}")


def test_a_value_round_trips_and_names_its_key() -> None:
    stored = crypto.encrypt("订单 12345 的退款", context="t.body", ring=RING)

    assert stored.startswith("v1:new:")
    assert "订单" not in stored
    assert crypto.decrypt(stored, context="t.body", ring=RING) == "订单 12345 的退款"


def test_the_same_text_encrypts_differently_each_time() -> None:
    assert crypto.encrypt("你好", context="t.body", ring=RING) != crypto.encrypt("你好", context="t.body", ring=RING)


def test_a_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    stored = crypto.encrypt("secret answer", context="t.response", ring=RING)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, context="t.query", ring=RING)


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    stored = crypto.encrypt("secret", context="t.body", ring=RING)
    flipped = stored[:-4] + ("AAAA" if stored[-4:] != "AAAA" else "BBBB")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped, context="t.body", ring=RING)


def test_an_old_key_still_decrypts_after_a_new_one_is_put_first() -> None:
    old_only = crypto.Keyring(primary_id="old", keys={"old": RING.keys["old"]})
    stored = crypto.encrypt("before rotation", context="t.body", ring=old_only)

    assert crypto.key_id_of(stored) == "old"
    assert crypto.decrypt(stored, context="t.body", ring=RING) == "before rotation"


def test_an_unknown_key_id_is_a_clear_error() -> None:
    other = crypto.parse_keys(crypto.new_key_spec("gone"))
    stored = crypto.encrypt("x", context="t.body", ring=other)
    with pytest.raises(crypto.DecryptionError, match="no key with id 'gone'"):
        crypto.decrypt(stored, context="t.body", ring=RING)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        ("k1:not-base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "must be 32 bytes"),
        ("no-colon", "look like"),
        # Fixed keys: parameters must be the same in every pytest-xdist worker.
        (f"a:{'A' * 43}=,a:{'B' * 43}=", "twice"),
    ],
)
def test_a_bad_key_setting_is_refused_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.parse_keys(spec)
