"""The checkable facts of a text: the numbers it states and the shop-policy terms it uses.

A small model asked about returns will happily write "30天无理由退货" when the knowledge base says
7 days. What makes such an answer wrong is almost always a number (days, hours, yuan, percent) or a
policy (free shipping, compensation, warranty) that no snippet states; both can be found without
understanding the sentence, which is what lets the guard check any model's draft in microseconds.
"""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SCALES = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN = "零〇一二两三四五六七八九十百千万"
# Chinese numerals count only before a unit of time, money or quantity: 一 alone is in 一下, 一般,
# 一直, 统一, 一次, 一件… and would drown the check in noise; 七天, 两小时, 三个工作日, 十元 are facts.
_UNIT = r"(?:个?工作日|个?小时|分钟|天|日|周|星期|个?月|年|元|块|折|倍|%|％|斤|公斤)"
_CN_NUMBER = re.compile(rf"([{_CN}]+)(?={_UNIT})")
_UNIT_AFTER = re.compile(rf"\s*(?:{_UNIT}|块钱|元钱)")
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
# "1. 打开订单" / "2、填写原因" / "3) 寄回": list numbering, not a claim.
_ENUMERATION = re.compile(r"(?m)(?:^|(?<=[\s：:；;。]))\d{1,2}(?:[.、）)](?!\d))")

# Promises a customer would hold the shop to. Each counts as a fact only where the grounds (the
# knowledge snippets, the question, the conversation) do not mention it.
POLICY_TERMS: tuple[str, ...] = (
    "无理由",
    "包邮",
    "免运费",
    "运费险",
    "保价",
    "价保",
    "保修",
    "质保",
    "赔偿",
    "赔付",
    "假一赔",
    "全额退款",
    "退款",
    "补发",
    "优惠券",
    "红包",
    "满减",
    "折扣",
    "打折",
    "积分",
    "返现",
    "赠品",
    "免费",
    "顺丰",
    "上门取件",
    "当天发货",
    "次日达",
    "终身",
    "以旧换新",
    "分期",
    "免息",
    "免单",
    "补偿",
    "审批",
    "批准",
)


def normalise(text: str) -> str:
    """NFKC (full-width digits and signs become ASCII), no whitespace: "７ 天" and "7天" read the same."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def chinese_number(numeral: str) -> int | None:
    """七 -> 7, 十五 -> 15, 二十四 -> 24, 一百二十 -> 120, 两千 -> 2000; None when it is not a number."""
    total = section = digit = 0
    seen = False
    for ch in numeral:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            seen = True
        elif ch in _SCALES:
            scale = _SCALES[ch]
            if scale == 10000:
                total = (total + section + digit) * scale
                section = 0
            else:
                section += (digit or (1 if scale == 10 else 0)) * scale
            digit = 0
            seen = True
        else:
            return None
    return total + section + digit if seen else None


def _arabic(text: str, *, bare: bool) -> set[Decimal]:
    """The Arabic numbers of an NFKC text; ``bare``: only those with no unit after or currency before."""
    found: set[Decimal] = set()
    for match in _ARABIC.finditer(text):
        if bare and (
            text[max(0, match.start() - 1) : match.start()] in ("¥", "$", "￥") or _UNIT_AFTER.match(text, match.end())
        ):
            continue
        try:
            found.add(Decimal(match.group()).normalize())
        except InvalidOperation:
            continue
    return found


def numbers(text: str) -> set[Decimal]:
    """Every number the text states (list numbering left out), as values: 7, 7.0 and 七 are one fact."""
    flat = _ENUMERATION.sub(" ", unicodedata.normalize("NFKC", text))
    found = _arabic(flat, bare=False)
    for match in _CN_NUMBER.finditer(flat):
        value = chinese_number(match.group(1))
        if value is not None:
            found.add(Decimal(value).normalize())
    return found


def policy_terms(text: str) -> set[str]:
    flat = normalise(text)
    return {term for term in POLICY_TERMS if term in flat}


def bare_numbers(text: str) -> set[Decimal]:
    """Numbers with no unit or currency: order numbers, phone numbers, quantities as identifiers."""
    return _arabic(unicodedata.normalize("NFKC", text), bare=True)


def unsupported(*, claim: str, grounds: str, customer: str = "") -> list[str]:
    """What ``claim`` states that neither ``grounds`` nor (for bare numbers) ``customer`` does.

    The customer's words are not the shop's facts: an order number they typed may be repeated, but
    "退我1000元" or "30天内能退吧" in a question must not become the answer's promise. Numbers first,
    then policy terms (readable, sorted).
    """
    stated = numbers(grounds) | bare_numbers(customer)
    extra_numbers = sorted(numbers(claim) - stated)
    extra_terms = sorted(policy_terms(claim) - policy_terms(grounds))
    return [format(n, "f") for n in extra_numbers] + extra_terms
