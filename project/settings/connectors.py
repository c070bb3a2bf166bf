"""Answers from the shop's own systems (apps.connectors): orders, logistics, after-sales."""

from project.settings.env import env_float, env_int, env_str

# The spine's shop step (apps.conversations.pipeline.ShopStep); "" turns connectors off altogether.
DESK_SHOP_STEP = env_str("DESK_SHOP_STEP", "apps.connectors.step.ConnectorStep")
# Shop look-ups a customer may cause: a burst, then this many a minute (Redis token bucket per customer).
DESK_CONNECTOR_RATE_BURST = env_int("DESK_CONNECTOR_RATE_BURST", 5)
DESK_CONNECTOR_RATE_PER_MINUTE = env_float("DESK_CONNECTOR_RATE_PER_MINUTE", 6.0)
DESK_CONNECTOR_ORDERS_MAX = env_int("DESK_CONNECTOR_ORDERS_MAX", 5)  # orders the console's panel lists

# What the customer reads (the order's own fields fill the {placeholders}).
DESK_CONNECTOR_ORDER_TEXT = env_str("DESK_CONNECTOR_ORDER_TEXT", "您的订单 {order_no}（{title}）当前状态：{status}。")
DESK_CONNECTOR_SHIPPING_TEXT = env_str("DESK_CONNECTOR_SHIPPING_TEXT", "承运快递：{carrier}，运单号：{tracking_no}。")
DESK_CONNECTOR_EVENT_TEXT = env_str("DESK_CONNECTOR_EVENT_TEXT", "最新物流：{time} {text}。")
DESK_CONNECTOR_ETA_TEXT = env_str("DESK_CONNECTOR_ETA_TEXT", "预计送达：{eta}。")
DESK_CONNECTOR_NOT_FOUND_TEXT = env_str(
    "DESK_CONNECTOR_NOT_FOUND_TEXT",
    "没有找到您账号下的订单 {order_no}。如果是用其他账号或他人代下的订单，"
    "请发送订单号和下单手机号后四位，例如“{order_no} 尾号1234”。",
)
DESK_CONNECTOR_NO_ORDERS_TEXT = env_str(
    "DESK_CONNECTOR_NO_ORDERS_TEXT", "没有查到您账号下的订单。请发送订单号，我帮您查询。"
)
DESK_CONNECTOR_RATE_LIMITED_TEXT = env_str("DESK_CONNECTOR_RATE_LIMITED_TEXT", "您查询得太频繁了，请稍后再试。")
DESK_CONNECTOR_HUMAN_NOTICE = env_str(
    "DESK_CONNECTOR_HUMAN_NOTICE", "订单系统暂时无法查询，已为您转接人工客服，请稍候。"
)
DESK_CONNECTOR_AFTER_SALE_NOTICE = env_str("DESK_CONNECTOR_AFTER_SALE_NOTICE", "已为您转接人工客服办理售后，请稍候。")
