"""The language models' text: which documents they train on and which they are scored on.

Training text is NSMC's training reviews (never the validation reviews the sentiment model is
chosen on, never the test split) and Wikipedia articles; the held-out text is those validation
reviews and a slice of whole Wikipedia articles chosen by a stable hash of their id, so the
slice does not move when the dump grows. Each review and each Wikipedia sentence ends with the
end unit, and an article's sentences stay together and in order (the model learns to carry
context across sentences).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from .chatbot import to_units
from .nsmc import training_splits

UNITS = ("morpheme", "syllable")


def units_of(row: dict, unit: str) -> list[str]:
    """A corpus row's units: its morphemes, or its syllables with ``▁`` between words."""
    if unit == "morpheme":
        return list(row["tokens"])
    if unit == "syllable":
        return to_units(row["text"], "syllable")
    raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")


def held_out(doc_id: str, fraction: float) -> bool:
    """Whether a Wikipedia article belongs to the held-out slice (stable across dumps)."""
    bucket = int.from_bytes(hashlib.sha1(str(doc_id).encode()).digest()[:4], "big")
    return bucket < fraction * 2**32


def articles(rows: Iterable[dict]) -> dict[str, list[dict]]:
    """Wikipedia sentence rows grouped by article, in corpus order."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(str(row["doc_id"]), []).append(row)
    return out


def documents(
    nsmc_rows: list[dict],
    wiki_rows: Iterable[dict],
    unit: str,
    val_fraction: float,
    split_seed: int,
    wiki_heldout: float,
    max_train_units: int | None,
    seed: int,
    heldout_units: int | None = None,
) -> dict[str, list[list[list[str]]]]:
    """{"train", "val_nsmc", "val_wiki"}: lists of documents, each a list of sentences' units.

    ``val_fraction`` and ``split_seed`` must be the sentiment stage's, so its validation
    reviews are this held-out set. Training takes every training review and then Wikipedia
    articles (shuffled with ``seed``) until ``max_train_units``; the training documents are
    then shuffled together. The held-out articles stop once they hold ``heldout_units``.
    Units are made only for the articles taken (a whole dump's syllables would not fit in
    memory as Python strings)."""
    parts = training_splits(nsmc_rows, val_fraction, split_seed)
    train = [[units_of(r, unit)] for r in parts["train"]]
    grouped = articles(wiki_rows)
    heldout_ids = [d for d in grouped if held_out(d, wiki_heldout)]
    train_ids = [d for d in grouped if not held_out(d, wiki_heldout)]
    rng = random.Random(seed)
    rng.shuffle(train_ids)
    train += _take(grouped, train_ids, unit, max_train_units, sum(len(d[0]) + 1 for d in train))
    rng.shuffle(train)
    return {
        "train": train,
        "val_nsmc": [[units_of(r, unit)] for r in parts["val"]],
        "val_wiki": _take(grouped, heldout_ids, unit, heldout_units, 0),
    }


def _take(
    grouped: dict[str, list[dict]], ids: list[str], unit: str, budget: int | None, used: int
) -> list[list[list[str]]]:
    """Whole articles of ``ids``, in order, while fewer than ``budget`` units are used."""
    out = []
    for doc_id in ids:
        if budget is not None and used >= budget:
            break
        doc = [units_of(r, unit) for r in grouped[doc_id]]
        out.append(doc)
        used += sum(len(s) + 1 for s in doc)
    return out


def stream(docs: Iterable[list[list[str]]], end: str) -> Iterable[str]:
    """The units of ``docs`` in order, ``end`` after each sentence."""
    for doc in docs:
        for sentence in doc:
            yield from sentence
            yield end
