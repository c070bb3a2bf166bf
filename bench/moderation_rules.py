"""The demo semantic rules (apps/moderation/data/demo_semantic_rules.csv), per rule: the held-out
paraphrases it catches and what it trips among the demo shop's questions, its answers and canned
responses, and the labelled FAQ set's near-misses and unrelated questions (peers/). Run as part of
``python bench/moderation.py`` (its semantic section)."""

import collections

from apps.moderation.demo import demo_semantic_rules, demo_semantic_rules_rows


def bench_demo_semantic(spec: str) -> None:
    """Each demo rule on its paraphrases (should trip) and on a shop's ordinary text (must not)."""
    from apps.moderation.semantic import Embedder, SemanticRules
    from peers.knowledge_dataset import NEGATIVES
    from peers.moderation_dataset import PARAPHRASES, shop_questions, shop_replies

    rules = SemanticRules(demo_semantic_rules(), Embedder(spec, batch_size=32))
    notes = {i + 1: row["note"] for i, row in enumerate(demo_semantic_rules_rows())}  # ids as demo_semantic_rules

    def scores(texts: list[str] | tuple[str, ...]) -> dict[int, list[float]]:
        by_rule: dict[int, list[float]] = collections.defaultdict(list)
        for hits in rules.best(texts):
            for hit in hits:
                by_rule[hit.rule_id].append(hit.score)
        return by_rule

    groups = {"shop questions": shop_questions(), "shop replies": shop_replies(), "FAQ negatives": list(NEGATIVES)}
    scored = {name: scores(texts) for name, texts in groups.items()}
    print(f"demo semantic rules ({spec}); shop questions: {len(groups['shop questions'])} (demo store + FAQ set)")
    print(
        "| rule | action | threshold | paraphrases caught (lowest caught / highest missed) | "
        + " | ".join(f"{name}: max, tripped" for name in groups)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(groups))
    for rule in rules.rules:
        own = scores(PARAPHRASES[notes[rule.id]])[rule.id]
        caught = [s for s in own if s >= rule.threshold]
        missed = [s for s in own if s < rule.threshold]
        lowest, highest = (f"{min(caught):.3f}" if caught else "-"), (f"{max(missed):.3f}" if missed else "-")
        cells = [
            f"{max(scored[name][rule.id]):.3f}, {sum(s >= rule.threshold for s in scored[name][rule.id])}"
            for name in groups
        ]
        label = f"{rule.category}: {notes[rule.id].removeprefix('demo: ')}"
        print(
            f"| {label} | {rule.action} | {rule.threshold:.2f} | {len(caught)}/{len(own)} ({lowest} / {highest}) | "
            + " | ".join(cells)
            + " |"
        )
