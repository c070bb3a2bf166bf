"""Does a customer message ask for a person? The default DESK_HUMAN_REQUEST_DETECTOR.

A phrase list alone misses ordinary ways of asking ("帮我接一下真人") and fires on questions about
staff ("你们人工客服几点下班？"). Here, in order:

1. Short forms, no model: a message that, normalised (punctuation, spaces, a polite 请/帮我/我要…,
   a leading 转/找/接 and trailing particles dropped), is one of DESK_HUMAN_REQUEST_PHRASES asks;
   one that is an enabled example, normalised the same way, takes the example's kind.
2. No model either: a message longer than DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS with none of CUES
   does not ask.
3. Otherwise a small classifier: L2-regularised logistic regression over the message's sentence
   vector (m3e-small, which knowledge and moderation already load) and its character uni- and
   bigrams, fitted on the enabled examples (HumanRequestExample, admin-editable). The message asks
   when the probability is at least DESK_HUMAN_REQUEST_THRESHOLD. Nearest example with a margin
   was measured first: the vectors follow the shared words, so "人工客服几点下班" sits as close to
   "转人工客服" as to "人工客服几点上线", and it stayed near F1 0.8 (docs/benchmarks.md, "Asking for a
   person"); the n-grams carry what the vector loses (几点, 电话, 不用, 上次 against 转, 找, 叫).

Each process fits once per version of the examples (a Redis key that every change bumps on commit,
read at most every KNOWLEDGE_RELOAD_SECONDS). The example vectors stay cached across fits, so an
edit costs encoding the edited text and a fit of a few milliseconds.
"""

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt
from django.conf import settings

from apps.conversations.pipeline import HumanRequest, PhraseDetector
from apps.moderation.semantic import Embedder, Vectors

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]

# A request for a person names one: no request in the labelled set lacks all of these ("人" covers
# 人工, 真人, 活人, 机器人). Only long messages are skipped on it: short ones cost one encode.
CUES = ("人", "客服", "转", "接", "售后", "店长", "经理", "老板", "主管", "机器", "自动回复", "ai", "rengong", "kefu")

# Regularisation (C = 1/λ) and the weight of the n-gram block next to the unit sentence vector: chosen
# with the threshold by 10-fold cross-validation on the shipped examples (bench/human_request.py).
REGULARISATION_C = 100.0
NGRAM_WEIGHT = 1.0

_NOT_WORD = re.compile(r"[\W_]+")
_LEAD = re.compile(r"^(?:请|麻烦|帮忙|帮我|给我|我要|我想|我需要|快点|快|赶紧|马上|直接)*(?:转接|转|找|接)?")
_TRAIL = re.compile(r"(?:谢谢|好吗|可以吗|[啊呀吧呢嘛哦噢喔啦哈呗撒嘞咯])+$")
_REPEATED = re.compile(r"(.+?)\1+")


def squashed(text: str) -> str:
    """NFKC, lower case, without spaces, punctuation or emoji."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def normalised(text: str) -> str:
    """The message as the short-form match sees it: "我要转 人工！！" and "人工人工" are "人工"."""
    text = squashed(text)
    repeated = _REPEATED.fullmatch(text)
    if repeated:
        text = repeated.group(1)
    text = _TRAIL.sub("", text)
    return _LEAD.sub("", text, count=1) or text


@cache
def phrase_forms(phrases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(form for form in map(normalised, phrases) if form)


def has_cue(text: str) -> bool:
    folded = squashed(text)
    return any(cue in folded for cue in CUES)


def _grams(text: str) -> set[str]:
    folded = squashed(text)
    return {*folded, *(folded[i : i + 2] for i in range(len(folded) - 1))}


def _sigmoid(z: Floats) -> Floats:
    return np.exp(-np.logaddexp(0.0, -z))


def _fit(x: Floats, y: Floats, *, c: float) -> Floats:
    """Logistic regression weights, by Newton's method on the dual coefficients (w = xᵀα): there are
    far fewer examples than features, so each step solves an n×n system (n = examples)."""
    gram = x @ x.T
    lam = 1.0 / c
    alpha = np.zeros(len(y))

    def loss(a: Floats) -> float:
        f = gram @ a
        return float(np.sum(np.logaddexp(0.0, f) - y * f) + lam / 2 * a @ f)

    current = loss(alpha)
    for _ in range(100):
        p = _sigmoid(gram @ alpha)
        step = np.linalg.solve((p * (1 - p))[:, None] * gram + lam * np.eye(len(y)), p - y + lam * alpha)
        size = 1.0
        while size > 1e-4 and (trial := loss(alpha - size * step)) > current:
            size /= 2  # damped: a full Newton step can overshoot while the examples are nearly separable
        alpha -= size * step
        if abs(current - trial) < 1e-10 or float(np.abs(size * step).max()) < 1e-9:
            break
        current = trial
    return x.T @ alpha


class Classifier:
    """Logistic regression on [unit sentence vector, character uni/bigrams (unit length x NGRAM_WEIGHT), 1]."""

    def __init__(
        self,
        vectors: Vectors,
        texts: Sequence[str],
        asks: Sequence[bool],
        *,
        c: float = REGULARISATION_C,
        ngram_weight: float = NGRAM_WEIGHT,
    ) -> None:
        self.ngram_weight = ngram_weight
        self.vocabulary = {gram: i for i, gram in enumerate(sorted({g for t in texts for g in _grams(t)}))}
        self.weights = _fit(self.features(vectors, texts), np.asarray(asks, dtype=np.float64), c=c)

    def features(self, vectors: Vectors, texts: Sequence[str]) -> Floats:
        bags = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            columns = sorted({self.vocabulary[g] for g in _grams(text) if g in self.vocabulary})
            if columns:
                bags[row, columns] = self.ngram_weight / np.sqrt(len(columns))
        return np.hstack([np.asarray(vectors, dtype=np.float64), bags, np.ones((len(texts), 1))])

    def probabilities(self, vectors: Vectors, texts: Sequence[str]) -> Floats:
        return _sigmoid(self.features(vectors, texts) @ self.weights)


class ExampleModel:
    """One version of the enabled examples, ready to decide."""

    def __init__(self, *, examples: Sequence[tuple[str, bool]], embedder: Embedder, version: str = "") -> None:
        self.version = version
        self.embedder = embedder
        kinds: dict[str, set[bool]] = {}
        for text, asks in examples:
            kinds.setdefault(normalised(text), set()).add(asks)
        # Two examples of different kinds that normalise alike: neither is taken as it is.
        self.exact = {form: next(iter(k)) for form, k in kinds.items() if form and len(k) == 1}
        self.classifier: Classifier | None = None
        labels = [asks for _, asks in examples]
        if any(labels) and not all(labels):
            texts = [text for text, _ in examples]
            self.classifier = Classifier(embedder.examples(texts), texts, labels)

    def decide(self, text: str, *, phrases: frozenset[str], threshold: float, plain_max_chars: int) -> HumanRequest:
        form = normalised(text)
        if not form:
            return HumanRequest(asks=False)
        if form in phrases:
            return HumanRequest(asks=True, route="phrase")
        if form in self.exact:
            return HumanRequest(asks=self.exact[form], route="phrase")
        if self.classifier is None or (len(text) > plain_max_chars and not has_cue(text)):
            return HumanRequest(asks=False)
        score = self.score(text)
        return HumanRequest(asks=score >= threshold, route="semantic", score=round(score, 4))

    def score(self, text: str) -> float:
        """The classifier's probability that the message asks for a person (one encode)."""
        if self.classifier is None:
            return 0.0
        text = text.strip()
        return float(self.classifier.probabilities(self.embedder.encode([text]), [text])[0])


class ExampleDetector:
    """The pipeline step (apps.conversations.pipeline.HumanRequestDetector): the process's model of the
    examples, refitted lazily when their version in Redis moves."""

    def __init__(self) -> None:
        self.embedder = Embedder(spec=settings.KNOWLEDGE_MODEL)
        self._model: ExampleModel | None = None
        self._version: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def asks(self, *, text: str) -> HumanRequest:
        try:
            return self.model().decide(
                text,
                phrases=phrase_forms(tuple(settings.DESK_HUMAN_REQUEST_PHRASES)),
                threshold=settings.DESK_HUMAN_REQUEST_THRESHOLD,
                plain_max_chars=settings.DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS,
            )
        except Exception:
            # No model, database or Redis: the phrase list still hands the plain requests over.
            logger.exception("human request: the detector failed; the phrase list decides")
            return PhraseDetector().asks(text=text)

    def version(self) -> str:
        from apps.knowledge import selectors

        now = time.monotonic()
        if self._version is not None and now - self._checked_at < settings.KNOWLEDGE_RELOAD_SECONDS:
            return self._version
        try:
            self._version = selectors.human_request_version()
        except Exception:
            if self._version is None:
                raise
            logger.warning("human request: version unreadable; keeping the current examples", exc_info=True)
        self._checked_at = now
        return self._version

    def model(self) -> ExampleModel:
        from apps.knowledge import selectors

        version = self.version()
        current = self._model
        if current is not None and current.version == version:
            return current
        with self._lock:
            if self._model is None or self._model.version != version:
                started = time.monotonic()
                examples = selectors.human_request_examples()
                self._model = ExampleModel(examples=examples, embedder=self.embedder, version=version)
                logger.info(
                    "human request: fitted on %d examples in %.0f ms",
                    len(examples),
                    (time.monotonic() - started) * 1000,
                )
            return self._model
