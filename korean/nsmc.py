"""Read NSMC (Naver sentiment movie corpus) TSV files: ``id<TAB>document<TAB>label``.

Malformed rows are counted per reason and skipped, or raise with ``strict=True``. Empty
documents are valid rows (NSMC v1.0 has 5 + 3); cleaning decides what to do with them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import CorpusFormatError

HEADER = "id\tdocument\tlabel"


@dataclass
class NsmcTable:
    ids: list[int] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.ids)


def parse_nsmc(lines: Iterable[bytes], name: str = "<nsmc>", strict: bool = False) -> NsmcTable:
    """Parse raw lines (bytes, so that undecodable rows are caught one by one)."""
    table = NsmcTable()
    for lineno, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r\n")
        reason = None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line, reason = "", "undecodable"
        if lineno == 1 and line == HEADER:
            continue
        if reason is None:
            fields = line.split("\t")
            if not line.strip():
                reason = "blank_line"
            elif len(fields) != 3:
                reason = "wrong_field_count"
            elif fields[2].strip() not in ("0", "1"):
                reason = "bad_label"
            elif not fields[0].strip().isdigit():
                reason = "bad_id"
        if reason:
            if strict:
                raise CorpusFormatError(
                    f"{name}, line {lineno}: {reason.replace('_', ' ')}: {raw[:80]!r}"
                )
            table.skipped[reason] += 1
            continue
        table.ids.append(int(fields[0]))
        table.documents.append(fields[1])
        table.labels.append(int(fields[2]))
    return table


def training_splits(rows: list[dict], val_fraction: float, seed: int) -> dict[str, list[dict]]:
    """Train, validation and test rows (each with a ``split``): validation is carved from NSMC
    train, shuffled with ``seed``; the test split stays whole, never trained on and never used
    to choose anything."""
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    random.Random(seed).shuffle(train)
    n_val = max(1, round(len(train) * val_fraction))
    return {"train": train[n_val:], "val": train[:n_val], "test": test}
