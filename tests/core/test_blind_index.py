"""The keyed blind index: terms, keys, confirmation on the decrypted text, and what SQL sees."""

import hashlib

import pytest
from django.db import connection

from apps.core import blind_index, crypto
from tests.factories import receive


def test_words_are_folded_and_cjk_runs_become_bigrams() -> None:
    assert blind_index.index_terms("ＲＥＦＵＮＤ") == blind_index.index_terms("refund")
    assert blind_index.index_terms("我要退款") == blind_index.index_terms("退款。我要、要退")
    assert len(blind_index.index_terms("我要退款 refund 2024")) == 5  # 3 bigrams, 2 words
    assert blind_index.index_terms("好") == []  # a lone CJK character gives no term
    assert blind_index.index_terms("") == blind_index.index_terms(None) == []


def test_a_phrase_is_confirmed_only_where_its_tokens_are_consecutive() -> None:
    query = blind_index.query_parse("退款")
    assert blind_index.phrase_spans("您好，我要退款，谢谢", query) == [(5, 7)]
    assert blind_index.phrase_spans("款退", query) == []
    assert blind_index.phrase_spans("退 款", query) == []
    phrase = blind_index.query_parse("iPhone 壳坏")
    assert blind_index.phrase_spans("我的ＩＰＨＯＮＥ壳坏了", phrase) == [(2, 10)]
    assert blind_index.phrase_spans("iPhone 的壳坏了", phrase) == []
    word = blind_index.query_parse("refund")
    assert blind_index.phrase_spans("Refund, please", word) == [(0, 6)]
    assert blind_index.phrase_spans("refunded", word) == []


def test_spans_point_into_the_original_text_when_normalising_changes_lengths() -> None:
    query = blind_index.query_parse("strasse 退货")
    text = "ä STRAßE 退货"
    (span,) = blind_index.phrase_spans(text, query)
    assert text[span[0] : span[1]] == "STRAßE 退货"


def test_the_search_key_is_derived_and_follows_the_primary_key(settings: pytest.FixtureRequest) -> None:
    before = blind_index.search_key()
    assert before not in crypto.keyring().keys.values()
    settings.DESK_ENCRYPTION_KEYS = f"{crypto.new_key_spec('other')},{settings.DESK_ENCRYPTION_KEYS}"  # type: ignore[attr-defined]
    crypto.keyring.cache_clear()
    try:
        assert blind_index.search_key() != before
        assert blind_index.index_terms("退款") != blind_index.index_terms("退款", key=before)
    finally:
        crypto.keyring.cache_clear()


@pytest.mark.django_db
def test_raw_sql_shows_no_plaintext_and_no_unkeyed_hash() -> None:
    text = "我要退款 refund 订单12345"
    message = receive(text).message
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_index::text, body FROM conversations_message WHERE id = %s", [message.pk])
        index, body = cursor.fetchone()
    assert index.startswith("{")
    assert len(blind_index.index_terms(text)) == index.count(",") + 1
    for piece in ["我要", "退款", "refund", "12345"]:
        for stored in (index, body):
            assert piece not in stored
            assert piece.encode().hex() not in stored
    # Without the key the terms cannot be recomputed: a plain SHA-256 of a term is not in it.
    stored = {int(v) for v in index.strip("{}").split(",")}
    for term in ("c:退款", "w:refund"):
        assert int.from_bytes(hashlib.sha256(term.encode()).digest()[:4], "big", signed=True) not in stored


def test_indexing_costs_little_beside_encryption() -> None:
    # Guards against an accidental quadratic: a 2,000-character message indexes in well under 50 ms.
    import time

    text = "您好，我上周买的蓝牙耳机左耳没有声音，可以退货吗？ Thanks " * 40
    started = time.perf_counter()
    blind_index.index_terms(text)
    assert time.perf_counter() - started < 0.05
