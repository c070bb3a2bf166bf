"""Labelled customer messages for the connectors' intent step (apps/connectors/intent.py).

Each item: the message and what the shop step should make of it: "order", "logistics", "after_sale"
or None (not a question for the shop's systems: the knowledge base or the model answers). Written by
hand, apart from the default patterns, to include near misses: policy questions that mention
退货 or 快递 in general are labelled as the step reads them today only when a person would also want the
order looked up. Used by bench/connectors.py and tests/connectors/test_intent.py.
"""

from typing import Literal

Label = Literal["order", "logistics", "after_sale"] | None

ITEMS: list[tuple[str, Label]] = [
    # logistics: where is it
    ("我的订单 E20261127001 到哪了？", "logistics"),
    ("快递到哪了", "logistics"),
    ("我买的围巾什么时候到", "logistics"),
    ("E20261101234 怎么还没发货", "logistics"),
    ("请问发货了吗", "logistics"),
    ("物流三天没更新了", "logistics"),
    ("单号 T20261120456 物流信息查一下", "logistics"),
    ("我的包裹还没到", "logistics"),
    ("显示已签收但是我没收到", "logistics"),
    ("几天到货啊", "logistics"),
    ("配送到哪里了，急用", "logistics"),
    ("运单号是多少", "logistics"),
    ("20261127123456789 这个单到哪了", "logistics"),
    ("昨天下的单今天能发货吗", "logistics"),
    # order: status, details
    ("查一下订单 E20261127001", "order"),
    ("E20261127002", "order"),
    ("我的订单状态是什么", "order"),
    ("帮我看看我下的单", "order"),
    ("订单号 E20261115009 付款成功了吗", "order"),
    ("我上周买的东西是哪个颜色来着", "order"),
    ("order E20261127001 status", "order"),
    ("我的订单", "order"),
    # after-sales
    ("E20261127001 我要退货", "after_sale"),
    ("衣服坏了，怎么办", "after_sale"),
    ("收到的杯子破损了", "after_sale"),
    ("少发了一件", "after_sale"),
    ("申请退款", "after_sale"),
    ("发错颜色了，要换货", "after_sale"),
    ("订单 E20261127001 售后怎么申请", "after_sale"),
    ("漏发了赠品", "after_sale"),
    # not for the shop's systems
    ("你好", None),
    ("你们几点上班", None),
    ("这件毛衣有XL码吗", None),
    ("羊毛围巾怎么洗", None),
    ("有优惠券吗", None),
    ("转人工", None),
    ("你们店在哪个城市", None),
    ("谢谢", None),
    ("这个颜色好看吗", None),
    ("支持花呗吗", None),
    ("手机号 13812345678 可以注册会员吗", None),
    ("现在有什么活动", None),
    ("尺码怎么选，我身高170", None),
    ("这款是纯棉的吗", None),
    ("可以开发票吗", None),
    ("你们是正品吗", None),
    ("会员积分怎么用", None),
    ("羊毛会起球吗", None),
    ("好的", None),
    ("包邮吗", None),
]
