"""The intent step on the labelled set (peers/order_intent_dataset.py): the shop is asked only for
questions about orders, and order numbers are recognised (bench/connectors.py prints the figures)."""

from apps.connectors.intent import intent_detect, mask_order_no
from apps.connectors.models import Connector
from peers.order_intent_dataset import ITEMS


def test_the_default_patterns_ask_the_shop_precisely_on_the_labelled_set() -> None:
    connector = Connector()  # the admin's defaults
    got = [(intent.kind if (intent := intent_detect(text=text, connector=connector)) else None) for text, _ in ITEMS]
    wanted = [label for _, label in ITEMS]
    asked = [i for i, kind in enumerate(got) if kind]
    should = [i for i, label in enumerate(wanted) if label]
    precision = sum(1 for i in asked if wanted[i]) / len(asked)
    recall = sum(1 for i in should if got[i]) / len(should)
    exact = sum(1 for g, w in zip(got, wanted, strict=True) if g == w) / len(ITEMS)
    assert precision >= 0.95, precision
    assert recall >= 0.9, recall
    assert exact >= 0.85, exact


def test_it_reads_the_order_number_and_the_phones_last_four_digits() -> None:
    intent = intent_detect(text="订单e20261127001，尾号 8899，到哪了", connector=Connector())

    assert intent is not None
    assert (intent.kind, intent.order_no, intent.phone_last4) == ("logistics", "E20261127001", "8899")


def test_a_phone_number_is_not_an_order_number_and_a_broken_pattern_only_turns_itself_off() -> None:
    assert intent_detect(text="手机号 13812345678 可以注册会员吗", connector=Connector()) is None
    broken = Connector(logistics_intent_regex="(到哪")

    intent = intent_detect(text="订单 E20261127001 到哪了", connector=broken)

    assert intent is not None
    assert intent.kind == "order"


def test_order_numbers_are_masked_for_logs() -> None:
    assert mask_order_no("E20261127001") == "E202*****001"
    assert mask_order_no("E1234") == "*****"
