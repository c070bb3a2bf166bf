"""BM25 over the words a question shares with an entry, for Chinese without a dictionary.

The sentence model ranks a reworded question's entry first only ~9 times in 10 when the entry has
one phrasing (bench/knowledge.py, "single-phrasing recall"); the words the question shares with the
entry's phrasing and answer settle many of the rest. Chinese has no spaces and a segmenter needs a
dictionary (jieba ships a 5 MB one), so the tokens are CJK characters and character bigrams (a
bigram covers most two-character words, the unigram keeps a match when the customer's word is cut
differently), lowercased Latin words and digit runs. Built once per Index (the index is rebuilt
when the knowledge version moves).
"""

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float32]

# Han ideographs (with extension A and the compatibility block), then Latin words, then digits.
_TOKEN = re.compile(r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|(?P<latin>[a-z]+)|(?P<digits>[0-9]+)")


def tokens(text: str) -> list[str]:
    """CJK unigrams then bigrams per run, Latin words, digit runs, in text order.

    NFKC first, so full-width letters and digits (ＶＩＰ, ９９) match their ASCII forms. No stop list:
    particles (吗, 的) get a low IDF anyway, and dropping them measured no better on the bench.
    """
    out: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text).lower()):
        run = match.group("cjk")
        if run is None:
            out.append(match.group())
            continue
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


class BM25:
    """Okapi BM25 over a fixed set of documents (one per entry), scored with numpy postings.

    Each term keeps the documents it occurs in and its precomputed BM25 weight there (the weight
    does not depend on the query), so a query costs one bincount over its tokens' postings;
    memory grows with the text, not with entries x vocabulary.
    """

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(documents)
        self.k1 = k1
        lengths = np.asarray([len(d) for d in documents], dtype=np.float32)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for doc, words in enumerate(documents):
            for term, count in Counter(words).items():
                docs, counts = postings.setdefault(term, ([], []))
                docs.append(doc)
                counts.append(count)
        self.idf: dict[str, float] = {}
        self.postings: dict[str, tuple[npt.NDArray[np.int64], Scores]] = {}
        for term, (docs, counts) in postings.items():
            idf = self._idf(len(docs))
            tf = np.asarray(counts, dtype=np.float32)
            norm = k1 * (1 - b + b * lengths[docs] / average)
            self.idf[term] = idf
            self.postings[term] = (
                np.asarray(docs, dtype=np.int64),
                (idf * tf * (k1 + 1) / (tf + norm)).astype(np.float32),
            )

    def _idf(self, frequency: int) -> float:
        # The "plus one" form: never negative, so a term in most entries still counts a little.
        return math.log(1 + (self.size - frequency + 0.5) / (frequency + 0.5))

    def scores(self, query: Iterable[str]) -> Scores:
        """Raw BM25 of every document (a query token counts once: customers repeat words for emphasis)."""
        found = [posting for term in set(query) if (posting := self.postings.get(term)) is not None]
        if not found:
            return np.zeros(self.size, dtype=np.float32)
        docs = np.concatenate([p[0] for p in found])
        weights = np.concatenate([p[1] for p in found])
        return np.bincount(docs, weights=weights, minlength=self.size).astype(np.float32)

    def normalised(self, query: Iterable[str]) -> Scores:
        """Scores in [0, 1]: BM25 over the most the query's tokens could earn (each at its IDF, a word the
        store never uses at the highest IDF), so how much of the question's weighted words an entry holds:
        each word found once in an entry of average length earns 1/(k1+1) of its share, so a question
        wholly found there scores about 0.45 (repeated in the entry, more; in a longer entry, less).
        Not relative to the best entry: a question about what no entry mentions stays near 0 everywhere
        instead of crowning one of them, which keeps the fused score comparable across questions."""
        terms = set(query)
        if not terms or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        ceiling = sum(self.idf.get(t, self._idf(0)) for t in terms) * (self.k1 + 1)
        return self.scores(terms) / np.float32(ceiling)
