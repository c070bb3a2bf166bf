"""Knowledge benchmark: direct-answer precision/recall, single-phrasing recall, cache hit vs LLM call latency.

    python bench/knowledge.py [--latency 1.0] [--calls 20]

1. The 30 entries of peers/knowledge_dataset.py (question + 2 stored phrasings each) are indexed
   with the packaged sentence model (m3e-small, as in production). 90 held-out paraphrases (label:
   their entry) and 60 negatives (32 near-misses sharing words and topic with an entry, 28 unrelated;
   label: no direct answer) are searched. A *wrong hit* is a direct answer with the wrong entry, or
   any direct answer to a negative. Printed at the configured threshold/margin and for a sweep.
2. Single-phrasing recall: the 30 entries indexed with their question only, every stored variant and
   paraphrase (150) searched; recall@1/@3 ranked by cosine alone and by the configured hybrid
   (cosine + KNOWLEDGE_LEXICAL_WEIGHT x BM25), in this process, with wrong direct answers for both.
   The demo shop (apps/knowledge/data/demo_store.csv) the same way: question only, its variants asked.
3. Latency, per answer: the answer cache's memory and Redis hits (key computation included), a direct
   answer (one embedding + index search), and an LLM call through the desk's pool against the local
   OpenAI-compatible server (peers/openai_server.py, in a subprocess) with a set latency.

Needs Redis (cache level 2, breaker state); no database.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
os.environ.setdefault("REDIS_CACHE_DB", "13")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from apps.knowledge.index import EntryRecord, Index  # noqa: E402
from apps.knowledge.lexical import BM25, tokens  # noqa: E402
from apps.knowledge.management.commands.knowledge_demo import demo_store_rows  # noqa: E402
from apps.llm import services  # noqa: E402
from apps.llm.cache import AnswerCache, CachedAnswer, cache_key, prompt_version  # noqa: E402
from apps.llm.prompt import PromptConfig, messages_build  # noqa: E402
from apps.llm.types import ChatRequest, EndpointConfig  # noqa: E402
from apps.moderation.semantic import Embedder  # noqa: E402
from peers.knowledge_dataset import ENTRIES, NEAR_MISSES, NEGATIVES, UNRELATED  # noqa: E402

PROMPT = PromptConfig(
    instructions="你是本店的微信客服助手。",
    instructions_in_user_turn=True,
    temperature=0.6,
    top_p=0.95,
    max_tokens=256,
    context_turns=5,
    context_max_tokens=2000,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ranking(*, hybrid: bool) -> dict[str, float]:
    """Index.search's ranking arguments: the configured hybrid, or the cosine alone (lexical weight 0)."""
    if not hybrid:
        return {"lexical_weight": 0.0, "agree_threshold": 0.0}
    return {
        "lexical_weight": settings.KNOWLEDGE_LEXICAL_WEIGHT,
        "agree_threshold": settings.KNOWLEDGE_DIRECT_AGREE_THRESHOLD,
        "agree_lexical": settings.KNOWLEDGE_DIRECT_AGREE_LEXICAL,
    }


def build_index(*, single: bool = False) -> Index:
    records = [
        EntryRecord(
            id=i,
            question=e.question,
            answer=e.answer,
            phrases=(e.question,) if single else (e.question, *e.variants),
            direct=True,
            vectors=None,
        )
        for i, e in enumerate(ENTRIES)
    ]
    started = time.perf_counter()
    index = Index(version="bench", records=records, embedder=Embedder(spec=settings.KNOWLEDGE_MODEL))
    print(f"indexed {len(records)} entries, {len(index.matrix)} phrasings in {time.perf_counter() - started:.1f} s")
    return index


def evaluate(
    index: Index, threshold: float, margin: float, k: int = 3, *, hybrid: bool = True, single: bool = False
) -> dict[str, float]:
    """Direct answers on the labelled set: the held-out paraphrases (with `single`, the stored variants
    too, for an index of questions only) and the 60 negatives."""
    labelled: list[tuple[str, int | None]] = [
        (p, i) for i, e in enumerate(ENTRIES) for p in (*(e.variants if single else ()), *e.paraphrases)
    ]
    positives = len(labelled)
    labelled += [(q, None) for q in NEGATIVES]
    correct = wrong_pos = wrong_near = wrong_unrelated = in_top_k = 0
    for question, label in labelled:
        found = index.search(question, k=k, threshold=threshold, margin=margin, **ranking(hybrid=hybrid))
        if label is not None and label in [m.entry_id for m in found.matches]:
            in_top_k += 1
        if found.direct is None:
            continue
        if found.direct.entry_id == label:
            correct += 1
        elif label is not None:
            wrong_pos += 1
        elif question in NEAR_MISSES:
            wrong_near += 1
        else:
            wrong_unrelated += 1
    wrong = wrong_pos + wrong_near + wrong_unrelated
    answered = correct + wrong
    return {
        "threshold": threshold,
        "margin": margin,
        "recall": correct / positives,
        "precision": correct / answered if answered else 1.0,
        "wrong": wrong,
        "wrong_pos": wrong_pos,
        "wrong_near": wrong_near,
        "wrong_unrelated": wrong_unrelated,
        "wrong_rate": wrong / len(labelled),
        "topk": in_top_k / positives,
    }


def quality(index: Index) -> None:
    n_pos = sum(len(e.paraphrases) for e in ENTRIES)
    print(f"\nlabelled set: {n_pos} paraphrases, {len(NEAR_MISSES)} near-misses, {len(UNRELATED)} unrelated")
    t, m = settings.KNOWLEDGE_DIRECT_THRESHOLD, settings.KNOWLEDGE_DIRECT_MARGIN
    r = evaluate(index, t, m, k=settings.KNOWLEDGE_TOP_K)
    print(f"configured threshold {t} margin {m}:")
    print(f"  direct-answer precision {r['precision']:.1%}   recall {r['recall']:.1%}")
    print(
        f"  wrong hits {r['wrong']} of {n_pos + len(NEGATIVES)} questions = {r['wrong_rate']:.2%} "
        f"(wrong entry {r['wrong_pos']}, near-miss {r['wrong_near']}, unrelated {r['wrong_unrelated']}); goal < 1%"
    )
    print(f"  right entry among the top {settings.KNOWLEDGE_TOP_K} prompt snippets: {r['topk']:.1%} of paraphrases")
    print("\nsweep (margin 0.02 unless shown):  threshold  precision  recall  wrong hits  wrong rate")
    for threshold, margin in (
        (0.86, 0.0),
        (0.88, 0.0),
        (0.90, 0.02),
        (0.92, 0.02),
        (0.93, 0.02),
        (0.94, 0.02),
        (0.96, 0.02),
    ):
        r = evaluate(index, threshold, margin)
        note = "" if margin == 0.02 else f" (margin {margin})"
        print(
            f"  {threshold:>32.2f}{note:<12} {r['precision']:>7.1%}  {r['recall']:>6.1%}  {int(r['wrong']):>10}"
            f"  {r['wrong_rate']:>9.2%}"
        )


def recall(index: Index, asked: list[tuple[str, int]], *, hybrid: bool) -> dict[str, float]:
    """Recall@1/@3, the share that reaches the prompt (top 3 and cosine >= KNOWLEDGE_SNIPPET_MIN_SCORE,
    the answerer's filter; and were it to gate on the fused score instead), and direct answers at the
    configured threshold, for questions with an entry."""
    r1 = r3 = prompt = prompt_fused = right = wrong = 0
    t, m = settings.KNOWLEDGE_DIRECT_THRESHOLD, settings.KNOWLEDGE_DIRECT_MARGIN
    for question, label in asked:
        found = index.search(question, k=3, threshold=t, margin=m, **ranking(hybrid=hybrid))
        ids = [match.entry_id for match in found.matches]
        r1 += ids[:1] == [label]
        r3 += label in ids
        prompt += any(x.entry_id == label and x.score >= settings.KNOWLEDGE_SNIPPET_MIN_SCORE for x in found.matches)
        prompt_fused += any(
            x.entry_id == label and x.fused >= settings.KNOWLEDGE_SNIPPET_MIN_SCORE for x in found.matches
        )
        if found.direct is not None:
            right += found.direct.entry_id == label
            wrong += found.direct.entry_id != label
    n = len(asked)
    return {
        "r1": r1 / n,
        "r3": r3 / n,
        "prompt": prompt / n,
        "prompt_fused": prompt_fused / n,
        "right": right,
        "wrong": wrong,
    }


def recall_table(index: Index, asked: list[tuple[str, int]]) -> None:
    rows = {"embedding only": recall(index, asked, hybrid=False), "hybrid": recall(index, asked, hybrid=True)}
    print(f"  {'':<16} recall@1  recall@3  in prompt  (fused gate)  direct right  direct wrong")
    for name, r in rows.items():
        print(
            f"  {name:<16} {r['r1']:>8.1%}  {r['r3']:>8.1%}  {r['prompt']:>9.1%}  {r['prompt_fused']:>12.1%}"
            f"  {int(r['right']):>12}  {int(r['wrong']):>12}"
        )
    e, h = rows["embedding only"], rows["hybrid"]
    print(
        f"  {'hybrid - emb.':<16} {(h['r1'] - e['r1']) * 100:>+6.1f}pp  {(h['r3'] - e['r3']) * 100:>+6.1f}pp"
        f"  {(h['prompt'] - e['prompt']) * 100:>+7.1f}pp  {(h['prompt_fused'] - e['prompt_fused']) * 100:>+10.1f}pp"
    )


def single_phrasing(full: Index) -> None:
    weight = settings.KNOWLEDGE_LEXICAL_WEIGHT
    print(
        f"\nsingle-phrasing recall (hybrid: cosine + {weight:g} x BM25; in prompt: top 3 and cosine >= "
        f"{settings.KNOWLEDGE_SNIPPET_MIN_SCORE} (fused gate: fused >= it); "
        f"direct at {settings.KNOWLEDGE_DIRECT_THRESHOLD}):"
    )
    single = build_index(single=True)
    asked = [(q, i) for i, e in enumerate(ENTRIES) for q in (*e.variants, *e.paraphrases)]
    print(f"labelled set, question only indexed, {len(asked)} stored variants + paraphrases asked:")
    recall_table(single, asked)
    t, m = settings.KNOWLEDGE_DIRECT_THRESHOLD, settings.KNOWLEDGE_DIRECT_MARGIN
    for name, index, is_single, n in (("question + variants", full, False, 90), ("question only", single, True, 150)):
        e, h = (evaluate(index, t, m, hybrid=hybrid, single=is_single)["wrong"] for hybrid in (False, True))
        print(
            f"  wrong direct answers, {name} indexed ({n} positives + {len(NEGATIVES)} negatives): "
            f"embedding only {int(e)}, hybrid {int(h)}"
        )
    rows = [r for r in demo_store_rows() if r["enabled"] == "1"]
    records = [
        EntryRecord(
            id=i,
            question=r["question"],
            answer=r["answer"],
            phrases=(r["question"],),
            direct=r["direct_answer"] == "1",
            vectors=None,
        )
        for i, r in enumerate(rows)
    ]
    demo = Index(version="bench-demo", records=records, embedder=single.embedder)
    asked_demo = [(q.strip(), i) for i, r in enumerate(rows) for q in r["variants"].splitlines() if q.strip()]
    print(f"demo shop, {len(records)} entries, question only indexed, {len(asked_demo)} variants asked:")
    recall_table(demo, asked_demo)
    search_latency(single, [q for q, _ in asked])


def search_latency(index: Index, questions: list[str]) -> None:
    """Per search, both rankings interleaved (question vectors cached by the encoder: the ranking's own cost),
    and BM25 alone over a synthetic 5,000-entry store."""
    emb_ms: list[float] = []
    hybrid_ms: list[float] = []
    for question in questions * 3:
        for hybrid, into in ((False, emb_ms), (True, hybrid_ms)):
            started = time.perf_counter()
            index.search(question, k=3, threshold=0.94, margin=0.02, **ranking(hybrid=hybrid))
            into.append((time.perf_counter() - started) * 1000)
    texts = [" ".join((e.question, *e.variants, e.answer)) for e in ENTRIES]
    texts += [" ".join((r["question"], r["variants"], r["answer"])) for r in demo_store_rows()]
    pick = random.Random(7)
    started = time.perf_counter()
    big = BM25([tokens(" ".join(pick.sample(texts, 2))) for _ in range(5000)])
    build_s = time.perf_counter() - started
    big_ms = []
    for question in questions:
        started = time.perf_counter()
        big.normalised(tokens(question))
        big_ms.append((time.perf_counter() - started) * 1000)
    print(f"search latency, {len(index)} entries, {len(emb_ms)} searches each:     median       P99")
    for name, values in (("embedding only", emb_ms), ("hybrid", hybrid_ms)):
        print(f"  {name:<42} {statistics.median(values):8.3f} ms {pct(values, 0.99):8.3f} ms")
    print(
        f"  {'BM25 alone, 5,000 synthetic entries':<42} {statistics.median(big_ms):8.3f} ms "
        f"{pct(big_ms, 0.99):8.3f} ms   (built in {build_s:.1f} s)"
    )


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "peers/openai_server.py"), "--latency", str(latency), "--mode", "bare_think"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def latency(index: Index, server_latency: float, calls: int) -> None:
    proc, url = start_server(server_latency)
    try:
        endpoint = EndpointConfig(
            id=910001,
            name="bench-knowledge",
            base_url=url,
            model="deepseek-r1",
            api_key="",
            weight=1,
            connect_timeout_s=5,
            read_timeout_s=30,
            total_timeout_s=60,
            max_concurrency=64,
        )
        question = "这件羊毛衫可以机洗吗？"
        request = ChatRequest(
            messages=messages_build(config=PROMPT, context=[], question=question),
            max_tokens=256,
            temperature=0.6,
            top_p=0.95,
        )
        cache = AnswerCache(size=1024, ttl_s=600)
        llm_ms, memory_ms, redis_ms, direct_ms = [], [], [], []
        services.completion_from_pool(endpoints=[endpoint], request=request)  # warm: connection, breaker keys
        for i in range(calls):
            asked = f"{question}{i}"
            started = time.perf_counter()
            completion = services.completion_from_pool(endpoints=[endpoint], request=request)
            llm_ms.append((time.perf_counter() - started) * 1000)
            key = cache_key(
                question=asked, model="deepseek-r1", knowledge_version="bench", prompt=prompt_version(PROMPT)
            )
            cache.set(key, CachedAnswer(text=completion.text, meta=completion.meta()))
        for _ in range(20):
            index.search("能开发票吗", k=3, threshold=0.94, margin=0.02, **ranking(hybrid=True))  # warm the model
        # Each kind in its own loop: torch's threads spin for a while after an encode and would
        # slow whatever is timed next on a small box.
        for i in range(200):
            asked = f"{question}{i % calls}"
            started = time.perf_counter()
            key = cache_key(
                question=asked, model="deepseek-r1", knowledge_version="bench", prompt=prompt_version(PROMPT)
            )
            hit = cache.get(key)
            memory_ms.append((time.perf_counter() - started) * 1000)
            assert hit is not None
            assert hit[1] == "memory"
        for i in range(200):
            cache.clear_local()
            asked = f"{question}{i % calls}"
            started = time.perf_counter()
            key = cache_key(
                question=asked, model="deepseek-r1", knowledge_version="bench", prompt=prompt_version(PROMPT)
            )
            hit = cache.get(key)
            redis_ms.append((time.perf_counter() - started) * 1000)
            assert hit is not None
            assert hit[1] == "redis"
        for _ in range(200):
            started = time.perf_counter()
            found = index.search("能开发票吗", k=3, threshold=0.94, margin=0.02, **ranking(hybrid=True))
            direct_ms.append((time.perf_counter() - started) * 1000)
            assert found.direct is not None
    finally:
        proc.terminate()
        proc.wait(5)
    llm_median = statistics.median(llm_ms)
    print(f"\nlatency per answer (LLM server latency {server_latency:g} s, {calls} LLM calls, 200 of the others):")
    print("                                   median        P99    vs LLM call")
    for name, values in (
        ("answer cache hit, memory", memory_ms),
        ("answer cache hit, Redis", redis_ms),
        ("direct answer (embed + search)", direct_ms),
        ("LLM call through the pool", llm_ms),
    ):
        median = statistics.median(values)
        print(f"  {name:<30} {median:8.3f} ms {pct(values, 0.99):8.3f} ms   {llm_median / median:9.0f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=1.0, help="LLM server latency before the first token (s)")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    index = build_index()
    quality(index)
    single_phrasing(index)
    latency(index, args.latency, args.calls)


if __name__ == "__main__":
    main()
