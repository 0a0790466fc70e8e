"""Syllable- and jamo-level FastText on Korean tokens (gensim), and lookups at either level.

Korean is agglutinative (모르네, 모르더라, 몰라야, 몰랐다 ...), so FastText's character n-grams give
vectors to rare and unseen forms. At the ``syllable`` level the n-gram unit is the Hangul
syllable (the token as it is); at the ``jamo`` level each token is decomposed into jamo with the
empty-final marker (Park et al., ACL 2018), and queries are decomposed the same way, so users
always query, and read answers, in ordinary Hangul.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import numpy as np

from .errors import KoreanNLPError
from .jamo_units import compose, decompose

Level = Literal["syllable", "jamo"]
LEVELS: tuple[str, ...] = ("syllable", "jamo")
_HANGUL = re.compile("[가-힣ㄱ-ㅎㅏ-ㅣ]")


class EmbeddingError(KoreanNLPError, ValueError):
    """The corpus or the settings cannot give a model (empty corpus, empty vocabulary, ...)."""


@dataclass(frozen=True)
class FastTextParams:
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    min_n: int = 1
    max_n: int = 4
    epochs: int = 5
    sg: int = 1  # 1 skip-gram, 0 CBOW
    negative: int = 5
    sample: float = 1e-4
    bucket: int = 2_000_000
    workers: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0 < self.min_n <= self.max_n:
            raise ValueError(f"need 0 < min_n <= max_n, got min_n={self.min_n}, max_n={self.max_n}")
        for name in ("vector_size", "window", "min_count", "epochs", "bucket", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")


# Syllables are dense units (1-4 covers a morpheme); jamo need longer n-grams (3 jamo = 1 syllable).
DEFAULT_PARAMS: dict[str, FastTextParams] = {
    "syllable": FastTextParams(min_n=1, max_n=4),
    "jamo": FastTextParams(min_n=3, max_n=6),
}


def to_level(token: str, level: str) -> str | None:
    """The training unit for ``token``; None when jamo mode has nothing Hangul to decompose."""
    if level == "syllable":
        return token
    if level == "jamo":
        return decompose(token) if _HANGUL.search(token) else None
    raise ValueError(f"unknown level {level!r}; choose from {LEVELS}")


@dataclass
class CorpusStats:
    sentences: int = 0
    tokens: int = 0
    skipped_tokens: dict[str, int] = field(default_factory=dict)


def write_corpus(sentences: Iterable[list[str]], level: str, out: TextIO) -> CorpusStats:
    """One sentence per line, tokens at ``level``, space-separated (gensim's corpus_file format).

    Tokens without Hangul cannot be decomposed into jamo; in jamo mode they are counted and
    skipped. Empty sentences are skipped.
    """
    stats = CorpusStats()
    cache: dict[str, str | None] = {}  # decomposition is per distinct token, not per occurrence
    skipped = 0
    for tokens in sentences:
        units = []
        for token in tokens:
            if token not in cache:
                unit = to_level(token, level)
                if len(cache) < 1_000_000:
                    cache[token] = unit
            else:
                unit = cache[token]
            if unit:
                units.append(unit)
            else:
                skipped += 1
        if units:
            out.write(" ".join(units))
            out.write("\n")
            stats.sentences += 1
            stats.tokens += len(units)
    if skipped:
        stats.skipped_tokens["non_hangul"] = skipped
    return stats


@dataclass
class TrainStats:
    vocabulary: int
    corpus_words: int
    seconds: float
    words_per_s: float


def train_fasttext(
    corpus_file: str | Path,
    params: FastTextParams,
    on_epoch: Callable[[int, float], None] | None = None,
):
    """Train gensim FastText on a corpus file; clear errors instead of failures inside gensim.

    ``on_epoch(epoch, seconds_so_far)`` is called after each epoch (progress for long runs).
    """
    from gensim.models import FastText
    from gensim.models.callbacks import CallbackAny2Vec

    class Progress(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch, self.started = 0, time.perf_counter()

        def on_epoch_end(self, model) -> None:
            self.epoch += 1
            if on_epoch:
                on_epoch(self.epoch, time.perf_counter() - self.started)

    path = Path(corpus_file)
    if not path.is_file() or path.stat().st_size == 0:
        raise EmbeddingError(f"the FastText corpus {path} is empty: nothing to train on")
    model = FastText(
        vector_size=params.vector_size,
        window=params.window,
        min_count=params.min_count,
        min_n=params.min_n,
        max_n=params.max_n,
        sg=params.sg,
        negative=params.negative,
        sample=params.sample,
        bucket=params.bucket,
        workers=params.workers,
        seed=params.seed,
    )
    model.build_vocab(corpus_file=str(path))
    if len(model.wv) == 0:
        raise EmbeddingError(
            f"min_count={params.min_count} left no words in the vocabulary of {path} "
            f"({model.corpus_total_words} tokens): lower min_count or give more text"
        )
    started = time.perf_counter()
    model.train(
        corpus_file=str(path),
        epochs=params.epochs,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        callbacks=[Progress()],
    )
    seconds = time.perf_counter() - started
    words = model.corpus_total_words
    return model, TrainStats(len(model.wv), words, seconds, words * params.epochs / seconds)


def save_fasttext(model, path: str | Path) -> None:
    """Save a gensim model with what training made, not when or how fast: the file's sha256
    keys the work downstream of it (a stage's embedding rows, its classifiers), so a model
    trained again to the same vectors (one worker, one seed) must be the same bytes."""
    model.lifecycle_events = model.wv.lifecycle_events = None  # dated events; None stops them
    model.total_train_time = 0.0  # the seconds are the run's metric, not the model's
    # gensim lists what it leaves out (derived, recomputed on load) in a set's order, which
    # changes with each process's string hashing, after the arrays it stores apart: with every
    # array apart (sep_limit 0), one such name is left to list.
    model.save(str(path), sep_limit=0)


class KoreanVectors:
    """Word vectors queried in ordinary Hangul at either level.

    Wraps gensim ``KeyedVectors`` (FastText's give vectors to out-of-vocabulary words from their
    n-grams; plain ones raise KeyError for them).
    """

    def __init__(self, kv, level: str = "syllable") -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; choose from {LEVELS}")
        self.kv, self.level = kv, level
        self._unit: np.ndarray | None = None

    def key(self, word: str) -> str:
        return decompose(word) if self.level == "jamo" else word

    def display(self, key: str) -> str:
        return compose(key) if self.level == "jamo" else key

    def __contains__(self, word: str) -> bool:
        return self.key(word) in self.kv.key_to_index

    def __len__(self) -> int:
        return len(self.kv)

    @property
    def words(self) -> list[str]:
        """The vocabulary in Hangul, most frequent first (gensim's order)."""
        return [self.display(k) for k in self.kv.index_to_key]

    def vector(self, word: str) -> np.ndarray:
        return np.asarray(self.kv[self.key(word)], dtype=np.float32)

    def unit_matrix(self) -> np.ndarray:
        if self._unit is None:
            self._unit = self.kv.get_normed_vectors().astype(np.float32, copy=False)
        return self._unit

    def most_similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        pairs = self.kv.most_similar(self.key(word), topn=topn)
        return [(self.display(k), float(s)) for k, s in pairs]

    @classmethod
    def load(cls, path: str | Path, level: str) -> KoreanVectors:
        from gensim.models import FastText

        return cls(FastText.load(str(path)).wv, level)
