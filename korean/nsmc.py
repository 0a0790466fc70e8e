"""Read NSMC (Naver sentiment movie corpus) TSV files: ``id<TAB>document<TAB>label``, and a
user's own labelled reviews in any CSV/TSV whose header names a text and a label column.

Malformed rows are counted per reason and skipped, or raise with ``strict=True``. Empty
documents are valid rows (NSMC v1.0 has 5 + 3); cleaning decides what to do with them.
"""

from __future__ import annotations

import csv
import itertools
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


def parse_reviews(
    lines: Iterable[bytes],
    name: str = "<reviews>",
    strict: bool = False,
    text: str = "document",
    label: str = "label",
) -> NsmcTable:
    """NSMC's TSV (``parse_nsmc``), or a CSV (``.csv``: commas) or TSV whose header names the
    ``text`` and ``label`` columns (labels 0 or 1; an ``id`` column of integers is kept, else
    a row's id is its line number). Quoted fields may hold the separator and line breaks."""
    lines = iter(lines)
    first = next(lines, b"")
    rest = itertools.chain([first], lines)
    delimiter = "," if name.lower().endswith(".csv") else "\t"
    header = next(
        csv.reader(
            [first.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")], delimiter=delimiter
        ),
        [],
    )
    if delimiter == "\t" and (header == HEADER.split("\t") or not {text, label} <= set(header)):
        return parse_nsmc(rest, name, strict)
    missing = [c for c in (text, label) if c not in header]
    if missing:
        raise CorpusFormatError(
            f"{name}: the header has no column {missing[0]!r} (it has {', '.join(header)}): "
            "name your text and label columns with --set corpus.nsmc_text_column=NAME and "
            "--set corpus.nsmc_label_column=NAME"
        )
    table = NsmcTable()
    decoded = (raw.decode("utf-8", "replace") for raw in rest)
    # A TSV's quotes are text (a review may open a quote it never closes); a CSV's quote.
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    reader = csv.reader(decoded, delimiter=delimiter, quoting=quoting)
    next(reader)
    where = {c: header.index(c) for c in (text, label, "id") if c in header}
    while True:
        lineno = reader.line_num + 1  # where the row starts (a quoted field may span lines)
        row = next(reader, None)
        if row is None:
            break
        reason = None
        if not any(field.strip() for field in row):
            reason = "blank_line"
        elif len(row) != len(header):
            reason = "wrong_field_count"
        elif "\ufffd" in "".join(row):
            reason = "undecodable"
        elif row[where[label]].strip() not in ("0", "1"):
            reason = "bad_label"
        if reason:
            if strict:
                raise CorpusFormatError(
                    f"{name}, line {lineno}: {reason.replace('_', ' ')}: {row!r:.80}"
                )
            table.skipped[reason] += 1
            continue
        given = row[where["id"]].strip() if "id" in where else ""
        table.ids.append(int(given) if given.isdigit() else lineno)
        table.documents.append(row[where[text]])
        table.labels.append(int(row[where[label]]))
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
