"""Batch scoring of a file of reviews: read a column of a CSV / TSV / parquet / text file,
score it in chunks (a progress bar and throughput on stderr), and write the table with the
predictions beside the input columns, through a temporary file renamed into place."""

from __future__ import annotations

import csv as csv_module
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from korflow.core.datasets import atomic_write
from korflow.core.progress import progress

READERS = (".csv", ".tsv", ".txt", ".parquet")
WRITERS = (".csv", ".tsv", ".parquet", ".jsonl")


def read_input(path: Path, column: str) -> pd.DataFrame:
    """The rows of ``path``. A ``.txt`` is one review a line, unless its first line holds a
    tab (a header, as in NSMC's ratings_*.txt): then it is a TSV. A file that is empty, not
    UTF-8 or not parseable fails with its name and the fix."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"--input {path} does not exist")
    if suffix not in READERS:
        raise ValueError(f"--input {path}: read {', '.join(READERS)} files, not {suffix!r}")
    if path.stat().st_size == 0:
        raise ValueError(f"--input {path} is empty: give a file with a header and one row a review")
    try:
        return _read(path, suffix, column)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"--input {path} is not UTF-8 (byte {exc.object[exc.start]:#04x}: {exc.reason}): "
            f"convert it, e.g. iconv -f CP949 -t UTF-8 {path.name} > utf8{suffix}"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"--input {path} could not be read as {suffix[1:]}: {exc}") from None


def _read(path: Path, suffix: str, column: str) -> pd.DataFrame:
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix in (".csv", ".tsv") or _tab_in_first_line(path):
        csv = suffix == ".csv"  # a TSV's quotes are text (NSMC reviews quote unevenly)
        table = pd.read_csv(
            path,
            sep="," if csv else "\t",
            dtype={column: str},
            keep_default_na=False,
            quoting=csv_module.QUOTE_MINIMAL if csv else csv_module.QUOTE_NONE,
        )
    else:
        with open(path, encoding="utf-8") as f:
            table = pd.DataFrame({column: [line.rstrip("\n") for line in f]})
    if column not in table.columns:
        raise ValueError(
            f"--input {path} has no column {column!r} (columns: {list(table.columns)}); "
            "name one with --column"
        )
    return table


def _tab_in_first_line(path: Path) -> bool:
    with open(path, encoding="utf-8") as f:
        return "\t" in f.readline()


def texts(table: pd.DataFrame, column: str) -> list[str]:
    """The column as text: a missing value is the empty review."""
    return table[column].fillna("").astype(str).tolist()


def score(
    table: pd.DataFrame,
    column: str,
    predict: Callable[[pd.DataFrame], pd.DataFrame],
    chunk: int = 5_000,
) -> tuple[pd.DataFrame, float]:
    """(``table`` with the prediction columns added, seconds) scoring ``chunk`` rows a call;
    a prediction column whose name the input has already is called ``predicted_<name>``."""
    reviews = texts(table, column)
    parts, start = [], time.perf_counter()
    with progress("scoring", total=len(table)) as advance:
        for begin in range(0, len(table), chunk):
            batch = reviews[begin : begin + chunk]
            parts.append(predict(pd.DataFrame({"document": batch})))
            advance(len(batch))
    seconds = time.perf_counter() - start
    predictions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    # An input that has a column of that name already (NSMC's gold `label`) keeps it.
    predictions.columns = [f"predicted_{c}" if c in table.columns else c for c in predictions]
    return pd.concat([table.reset_index(drop=True), predictions], axis=1), seconds


def check_output(path: Path) -> None:
    if path.suffix.lower() not in WRITERS:
        raise ValueError(f"--output {path}: write {', '.join(WRITERS)} files, not {path.suffix!r}")


def write_output(table: pd.DataFrame, path: Path) -> None:
    check_output(path)
    suffix = path.suffix.lower()
    with atomic_write(path) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        elif suffix == ".jsonl":
            table.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            table.to_csv(tmp, sep="," if suffix == ".csv" else "\t", index=False)
