"""Intrinsic evaluation of Korean word vectors on Park et al.'s sets (ACL 2018).

- WS-353 Korean: Spearman's rho between cosine similarity and the human score, over all pairs
  (FastText composes vectors for unseen words) and over the pairs whose words are both in the
  vocabulary; the count of those pairs is reported.
- The 10,000-item Korean analogy set (10 sections, ``: sem1_...`` / ``: syn1_...`` headings):
  3CosAdd top-1 accuracy over the vocabulary with the three question words excluded, per section
  and as semantic / syntactic / overall totals; and Park et al.'s own score, the mean cosine
  distance 1 - cos(b - a + c, d) per section (lower is better).

``vectors`` is anything with ``vector(word)``, ``unit_matrix()``, ``words`` and ``in``
(``korean.embeddings.KoreanVectors``), so a tiny hand-made model can be evaluated as well.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from .errors import CorpusFormatError


@dataclass(frozen=True)
class Analogy:
    section: str
    a: str
    b: str
    c: str
    d: str


def load_ws353(path: str | Path) -> list[tuple[str, str, float]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    pairs = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != 3:
            raise CorpusFormatError(f"{path}, line {lineno}: expected word1,word2,score")
        pairs.append((row[0].strip(), row[1].strip(), float(row[2])))
    return pairs


def load_analogies(path: str | Path) -> list[Analogy]:
    items, section = [], None
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if section is None or len(words) != 4:
            raise CorpusFormatError(
                f"{path}, line {lineno}: expected a section then 'a b c d' lines"
            )
        items.append(Analogy(section, *words))
    return items


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm == 0, 1, norm)


def evaluate_similarity(vectors, pairs: list[tuple[str, str, float]]) -> dict[str, float]:
    sims, gold, in_vocab = [], [], []
    for w1, w2, score in pairs:
        try:
            v1, v2 = _unit(vectors.vector(w1)), _unit(vectors.vector(w2))
        except KeyError:  # a plain (non-FastText) model has no vector for unseen words
            continue
        sims.append(float(v1 @ v2))
        gold.append(score)
        in_vocab.append(w1 in vectors and w2 in vectors)
    result = {
        "ws353_pairs": len(pairs),
        "ws353_pairs_scored": len(sims),
        "ws353_pairs_in_vocab": int(sum(in_vocab)),
    }
    result["ws353_spearman"] = (
        float(spearmanr(sims, gold).statistic) if len(sims) > 2 else float("nan")
    )
    iv = [i for i, ok in enumerate(in_vocab) if ok]
    result["ws353_spearman_in_vocab"] = (
        float(spearmanr([sims[i] for i in iv], [gold[i] for i in iv]).statistic)
        if len(iv) > 2
        else float("nan")
    )
    return result


def evaluate_analogy(
    vectors, items: list[Analogy], restrict_vocab: int | None = None, batch: int = 256
) -> dict[str, float]:
    """3CosAdd top-1 over the (most frequent ``restrict_vocab``) vocabulary, and Park's distance."""
    matrix = vectors.unit_matrix()
    words = vectors.words
    if restrict_vocab:
        matrix, words = matrix[:restrict_vocab], words[:restrict_vocab]
    index = {w: i for i, w in enumerate(words)}
    correct: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    distance: dict[str, list[float]] = defaultdict(list)
    answer_in_vocab: dict[str, int] = defaultdict(int)
    usable = []
    for item in items:
        total[item.section] += 1
        try:
            a, b, c, d = (_unit(vectors.vector(w)) for w in (item.a, item.b, item.c, item.d))
        except KeyError:
            continue
        query = b - a + c
        distance[item.section].append(1.0 - float(_unit(query) @ d))
        answer_in_vocab[item.section] += item.d in index
        usable.append((item, query))
    for start in range(0, len(usable), batch):
        chunk = usable[start : start + batch]
        scores = np.stack([q for _, q in chunk]) @ matrix.T
        for row, (item, _) in enumerate(chunk):
            for w in (item.a, item.b, item.c):  # the question words are never the answer
                if w in index:
                    scores[row, index[w]] = -np.inf
        best = scores.argmax(axis=1)
        for row, (item, _) in enumerate(chunk):
            correct[item.section] += words[best[row]] == item.d
    result: dict[str, float] = {}
    for section in total:
        result[f"analogy_{section}_accuracy"] = correct[section] / total[section]
        result[f"analogy_{section}_distance"] = (
            float(np.mean(distance[section])) if distance[section] else float("nan")
        )
        result[f"analogy_{section}_answer_in_vocab"] = answer_in_vocab[section]
    for name, prefix in (
        ("analogy", ""),
        ("analogy_semantic", "sem"),
        ("analogy_syntactic", "syn"),
    ):
        sections = [s for s in total if s.startswith(prefix)]
        n = sum(total[s] for s in sections)
        result[f"{name}_accuracy"] = sum(correct[s] for s in sections) / n if n else float("nan")
        dists = [x for s in sections for x in distance[s]]
        result[f"{name}_distance"] = float(np.mean(dists)) if dists else float("nan")
    result["analogy_items"] = len(items)
    result["analogy_items_scored"] = len(usable)
    return result
