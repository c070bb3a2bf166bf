"""Customer-service sentences for bench/search.py: templates and vocabulary, seeded, reproducible.

About four in five messages are Chinese, one in five English; customers ask, the bot answers. The
six-character phrases and the English words the bench searches for occur in the corpus at
different frequencies (a product name in ~1 % of messages, "您好" in a third).
"""

import random

PRODUCTS = [
    "蓝牙耳机",
    "保温杯",
    "运动鞋",
    "充电宝",
    "羽绒服",
    "电饭煲",
    "手机壳",
    "洗面奶",
    "扫地机器人",
    "空气炸锅",
    "连衣裙",
    "机械键盘",
    "儿童书包",
    "行李箱",
    "台灯",
    "电动牙刷",
    "咖啡机",
    "瑜伽垫",
    "无线鼠标",
    "加湿器",
]
PROBLEMS = [
    "左耳没有声音",
    "尺码偏小一号",
    "颜色和图片不一样",
    "屏幕有一道划痕",
    "包装盒破损了",
    "少发了一个配件",
    "充不进去电了",
    "开机没有反应",
    "拉链卡住拉不动",
    "有一股刺鼻味道",
    "按键失灵按不动",
    "漏水漏得厉害",
]
ACTIONS = ["退货", "换货", "退款", "补发", "维修", "开发票", "改地址", "加急发货"]
WAITS = ["三天", "两天", "一周", "五个工作日", "明天", "四十八小时"]
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆"]
CHINESE_ASK = [
    "您好，我的订单{order}什么时候发货？",
    "{product}收到了但是{problem}，可以{action}吗？",
    "请问{product}有没有别的颜色？",
    "我在{city}，快递一般几天能到？",
    "物流信息{wait}都没更新了，帮我查一下",
    "买的{product}{problem}，怎么处理",
    "能不能帮我{action}，订单号{order}",
    "优惠券用不了，提示已过期",
    "你们客服几点下班？",
    "发票抬头写错了，能重开吗",
    "{product}的保修期是多久？",
    "我要投诉，{problem}，已经第二次了",
]
CHINESE_ANSWER = [
    "亲，您的订单已经安排发货，预计{wait}内送达{city}。",
    "非常抱歉给您带来不便，{product}{problem}的问题我们可以为您{action}。",
    "您好，{product}目前有黑色、白色和灰色三种可选。",
    "已为您登记{action}申请，审核通过后会短信通知您。",
    "请提供一下订单号和{product}的照片，我们马上为您处理。",
    "客服在线时间是早上九点到晚上十点，节假日不休息。",
    "亲，{product}保修一年，人为损坏不在保修范围内。",
    "您好，快递到{city}一般需要{wait}，请耐心等待。",
]
ENGLISH_WORDS = ["refund", "delivery", "tracking", "broken", "invoice", "exchange", "warranty", "charger"]
ENGLISH = [
    "Hi, my order {order} has not arrived yet, can you check the tracking?",
    "The {product_en} is broken, I want a refund please",
    "Can I exchange the {product_en} for a bigger size?",
    "Please send me an invoice for order {order}",
    "Is there a warranty on the {product_en}?",
    "The charger does not work with my {product_en}",
    "Your delivery is scheduled, it should arrive within {wait_en}.",
    "We have issued the refund, it takes 3 to 5 working days.",
    "Thanks for waiting, the tracking number is SF{order}.",
    "Sorry about that, we will ship a replacement {product_en} today.",
]
PRODUCTS_EN = ["headphones", "thermos", "sneakers", "power bank", "down jacket", "rice cooker", "phone case", "lamp"]
WAITS_EN = ["three days", "a week", "48 hours", "five working days"]

# What the bench searches for.
TWO_CHAR = [
    "退货",
    "耳机",
    "发票",
    "物流",
    "尺码",
    "快递",
    "客服",
    "优惠",
    "颜色",
    "划痕",
    "换货",
    "地址",
    "退款",
    "保修",
    "您好",
    "订单",
    "键盘",
    "书包",
    "台灯",
    "上海",
    "成都",
    "投诉",
    "味道",
    "按键",
    "漏水",
]
SIX_CHAR = [
    "左耳没有声音",
    "尺码偏小一号",
    "屏幕有一道划",
    "包装盒破损了",
    "少发了一个配",
    "充不进去电了",
    "开机没有反应",
    "拉链卡住拉不",
    "有一股刺鼻味",
    "按键失灵按不",
    "漏水漏得厉害",
    "颜色和图片不",
    "优惠券用不了",
    "发票抬头写错",
    "物流信息两天",
    "快递到上海一",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def sentence(rng: random.Random, customer: bool) -> str:
    if rng.random() < 0.2:
        template = rng.choice(ENGLISH[:6] if customer else ENGLISH[6:])
    else:
        template = rng.choice(CHINESE_ASK if customer else CHINESE_ANSWER)
    return template.format(
        order=rng.randrange(10**11, 10**12),
        product=rng.choice(PRODUCTS),
        problem=rng.choice(PROBLEMS),
        action=rng.choice(ACTIONS),
        wait=rng.choice(WAITS),
        city=rng.choice(CITIES),
        product_en=rng.choice(PRODUCTS_EN),
        wait_en=rng.choice(WAITS_EN),
    )


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
