"""Labelled text for the demo semantic rules (apps/moderation/data/demo_semantic_rules.csv).

PARAPHRASES: per rule (keyed by its note), five customer messages it should catch, written after
the rules' examples and thresholds were chosen and sharing no sentence with them, so a hit is
earned by the model. shop_questions(): what customers ordinarily ask the demo shop, which no rule
may trip (a tripped hand_over rule takes the conversation from the bot). shop_replies(): the demo
shop's answers and canned responses, which moderation also checks on the way out (a tripped rule
there withholds the bot's answer).
"""

import csv
from pathlib import Path

from apps.console.demo import demo_canned_responses_rows
from peers.knowledge_dataset import ENTRIES

DEMO_STORE = Path(__file__).resolve().parent.parent / "apps" / "knowledge" / "data" / "demo_store.csv"

PARAPHRASES: dict[str, tuple[str, ...]] = {
    "demo: complaints and escalation (消协, 12315, 曝光, 起诉)": (
        "你们再这样敷衍我就去消费者协会",
        "我要把这件事发到小红书上",
        "我会向市场监督管理局投诉的",
        "我要维权，去法院告你们",
        "打12315去",
    ),
    "demo: off-platform payment, order brushing, red-packet links": (
        "加个私人联系方式，转账给你少算点",
        "点击这个网址领取100元红包",
        "兼职打字员，刷单一天赚三百",
        "别走淘宝了，直接微信转我",
        "帮忙刷几个好评给佣金",
    ),
    "demo: a customer reports someone posing as the shop": (
        "有人说是你们售后，让我去支付宝开借呗",
        "一个陌生电话说我买的东西有问题要退我三倍钱",
        "有人发短信让我点链接办理退款，是你们发的吗",
        "对方要我的银行卡号和验证码说要退款给我",
        "有个骗子冒充你们让我下载软件",
    ),
    "demo: insults at the shop or its staff": (
        "你们这群废物",
        "什么狗屁客服",
        "真是个黑店，骗子",
        "你是傻子吗听不懂",
        "垃圾东西，垃圾店",
    ),
    "demo: threats against the shop or its staff": (
        "你们给我等着瞧",
        "我要找人去你们公司堵你",
        "小心点，出门注意安全",
        "不退钱我跟你们没完",
        "我会让你后悔的",
    ),
}


def _store_rows() -> list[dict[str, str]]:
    with DEMO_STORE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def shop_questions() -> list[str]:
    """The demo shop's questions and variants, then the labelled FAQ set's questions, variants and
    held-out paraphrases (peers/knowledge_dataset.py), without repeats."""
    texts = [row["question"] for row in _store_rows()]
    texts += [line.strip() for row in _store_rows() for line in row["variants"].splitlines() if line.strip()]
    texts += [entry.question for entry in ENTRIES]
    texts += [text for entry in ENTRIES for text in (*entry.variants, *entry.paraphrases)]
    return list(dict.fromkeys(texts))


def shop_replies() -> list[str]:
    """The demo shop's answers and canned responses."""
    return [row["answer"] for row in _store_rows()] + [row["body"] for row in demo_canned_responses_rows()]
