"""Progress bars for long work (rich); set KORFLOW_PROGRESS=0 to turn them off."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; the bar shows done/total and elapsed time."""
    disabled = os.environ.get("KORFLOW_PROGRESS", "1") == "0"
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    ]
    # On stderr: stdout carries only results (`RUN=$(korflow corpus …)` gets the run id).
    with Progress(*columns, console=Console(stderr=True), disable=disabled) as bar:
        task = bar.add_task(description, total=total, note="")

        def advance(n: float = 1, note: str | None = None) -> None:
            bar.update(task, advance=n, **({"note": note} if note is not None else {}))

        yield advance
