"""The ONNX cascade against the torch reference, on every text the moderation and knowledge tests and
benches use (1,015 texts): each int8 vector within 0.99 cosine of torch's, and the same decisions from
both, without exception (rules tripped, the knowledge entry answered directly or kept as fallback, a
request for a person).

int8 alone cannot promise that: it moves a similarity by up to ~0.03, and a text whose torch score sits
that close to a threshold may land on the other side (measured before the cascade: 10-13 of 5,075
(text, rule) pairs and 3 of 302 direct answers). So the stored side is fp32 (torch's vectors to 1e-6)
and a message whose int8 score falls within DESK_ENCODER_RECHECK_MARGIN of a threshold is decided on
its fp32 vector (apps/moderation/semantic.py); the margin is twice the largest query error measured
here, which test_the_query_error_is_within_half_the_margin keeps true.

Loads torch and both exports (the real model): ~60 s on two cores.
"""

import importlib
from collections.abc import Callable

import numpy as np
import pytest
from django.conf import settings

from apps.knowledge.human_request import ExampleModel, phrase_forms
from apps.knowledge.index import EntryRecord, Index, Match, Search, configured_search
from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
from apps.moderation.demo import demo_semantic_rules
from apps.moderation.semantic import Embedder, SemanticRules, _onnx_encoder
from peers.answers_dataset import ITEMS
from peers.human_request_dataset import MESSAGES
from peers.knowledge_dataset import ENTRIES, NEGATIVES
from peers.moderation_dataset import PARAPHRASES, shop_questions, shop_replies

MIN_COSINE = 0.99
_seed = importlib.import_module("apps.knowledge.migrations.0003_human_request_examples")
EXAMPLES = [(t, True) for t in _seed.POSITIVE] + [(t, False) for t in _seed.NEGATIVE]

MODERATION = [
    *(example for rule in demo_semantic_rules() for example in rule.examples),
    *(text for texts in PARAPHRASES.values() for text in texts),
    *shop_questions(),
    *shop_replies(),
]
KNOWLEDGE = [
    *(text for e in ENTRIES for text in (e.question, *e.variants, *e.paraphrases, e.answer)),
    *NEGATIVES,
    *(item.question for item in ITEMS),
    *(message.text for message in MESSAGES),
    *(text for text, _ in EXAMPLES),
]
TEXTS = list(dict.fromkeys(MODERATION + KNOWLEDGE))


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def onnx_embedder() -> Embedder:
    return Embedder(backend="onnx")


def test_every_vector_is_within_0_99_of_torch(torch_embedder: Embedder, onnx_embedder: Embedder) -> None:
    reference, quantised = torch_embedder.encode(TEXTS), onnx_embedder.encode(TEXTS)

    cosine = (reference * quantised).sum(axis=1)

    worst = int(np.argmin(cosine))
    assert len(TEXTS) > 600
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    assert cosine.min() >= MIN_COSINE, (TEXTS[worst], float(cosine.min()))


def test_the_query_error_is_within_half_the_margin(torch_embedder: Embedder) -> None:
    # Every text against every text as the stored side (rule examples and knowledge phrasings are among
    # them), with the batchings a worker produces: alone, sorted batches, and batches of whatever callers
    # coalesced (mixed lengths pad most, which moves int8 furthest: 0.0277 measured).
    int8 = _onnx_encoder(settings.DESK_MODERATION_MODEL, 32, "int8")
    reference = Embedder(backend="onnx").encode_reference(TEXTS)
    exact = reference @ reference.T
    shuffled = np.random.default_rng(1).permutation(len(TEXTS))
    mixed = np.empty_like(reference)
    for start in range(0, len(TEXTS), 32):
        chunk = shuffled[start : start + 32]
        mixed[chunk] = int8.encode([TEXTS[i] for i in chunk])
    batchings = {
        "sorted": int8.encode(TEXTS),
        "mixed": mixed,
        "alone": np.concatenate([int8.encode([t]) for t in TEXTS]),
    }

    errors = {name: float(np.abs(q @ reference.T - exact).max()) for name, q in batchings.items()}

    assert float(((reference * torch_embedder.encode(TEXTS)).sum(axis=1)).min()) >= 0.99999
    assert max(errors.values()) <= settings.DESK_ENCODER_RECHECK_MARGIN / 2, errors


def test_the_same_semantic_rules_trip(torch_embedder: Embedder, onnx_embedder: Embedder) -> None:
    reference = SemanticRules(demo_semantic_rules(), torch_embedder).best(TEXTS)
    cascade = SemanticRules(demo_semantic_rules(), onnx_embedder).best(TEXTS)

    flips = [
        (text, r.rule_id, round(r.score, 4), round(c.score, 4), r.threshold)
        for text, torch_hits, cascade_hits in zip(TEXTS, reference, cascade, strict=True)
        for r, c in zip(torch_hits, cascade_hits, strict=True)
        if (r.score >= r.threshold) != (c.score >= c.threshold)
    ]
    assert sum(h.score >= h.threshold for hits in reference for h in hits) >= 25  # a real comparison
    assert flips == []


def _searches(index: Index, questions: list[str]) -> list[Search]:
    """As production searches (KnowledgeBase.search's settings)."""
    return [configured_search(index, question) for question in questions]


def _entry(match: Match | None) -> int | None:
    return None if match is None else match.entry_id


def _labelled_set(embedder: Embedder) -> Index:
    records = [
        EntryRecord(
            id=i, question=e.question, answer=e.answer, phrases=(e.question, *e.variants), direct=True, vectors=None
        )
        for i, e in enumerate(ENTRIES)
    ]
    return Index(version="agreement", records=records, embedder=embedder)


def _demo_store(embedder: Embedder) -> Index:
    records = [
        EntryRecord(
            id=i,
            question=row["question"],
            answer=row["answer"],
            phrases=(row["question"],),
            direct=row["direct_answer"] == "1",
            vectors=None,
        )
        for i, row in enumerate(demo_store_rows())
    ]
    return Index(version="agreement-demo", records=records, embedder=embedder)


@pytest.mark.parametrize(
    ("build", "questions"),
    [
        (_labelled_set, [p for e in ENTRIES for p in e.paraphrases] + list(NEGATIVES) + [i.question for i in ITEMS]),
        (_demo_store, [v.strip() for row in demo_store_rows() for v in row["variants"].splitlines() if v.strip()]),
    ],
    ids=["labelled-set", "demo-store"],
)
def test_the_knowledge_search_decides_alike(
    torch_embedder: Embedder, onnx_embedder: Embedder, build: Callable[[Embedder], Index], questions: list[str]
) -> None:
    reference = _searches(build(torch_embedder), questions)
    cascade = _searches(build(onnx_embedder), questions)

    differ: list[tuple[object, ...]] = []
    for question, r, c in zip(questions, reference, cascade, strict=True):
        decided = (_entry(r.direct), _entry(r.fallback)), (_entry(c.direct), _entry(c.fallback))
        if decided[0] != decided[1]:
            differ.append((question, "direct, fallback", *decided, round(r.matches[0].score, 4)))
        elif (r.direct or r.fallback) and r.matches[0].entry_id != c.matches[0].entry_id:
            differ.append((question, "top", r.matches[0].entry_id, c.matches[0].entry_id))
    assert sum(r.direct is not None for r in reference) >= 5
    assert differ == []


def test_the_human_request_detector_decides_alike(torch_embedder: Embedder, onnx_embedder: Embedder) -> None:
    phrases = phrase_forms(tuple(settings.DESK_HUMAN_REQUEST_PHRASES))

    def asks(embedder: Embedder) -> list[bool]:
        model = ExampleModel(examples=EXAMPLES, embedder=embedder)
        return [
            model.decide(
                m.text,
                phrases=phrases,
                threshold=settings.DESK_HUMAN_REQUEST_THRESHOLD,
                plain_max_chars=settings.DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS,
            ).asks
            for m in MESSAGES
        ]

    reference, cascade = asks(torch_embedder), asks(onnx_embedder)

    assert [m.text for m, r, c in zip(MESSAGES, reference, cascade, strict=True) if r != c] == []
