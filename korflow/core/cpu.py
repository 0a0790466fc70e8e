"""One thread budget for the machine: heavy CPU jobs (a training, a FastText model) take turns,
each with all the cores.

Two trainings (or a training and gensim) that each start a full thread pool on the same cores
slow each other 10-30x: an epoch that takes 20 s alone took 180-730 s beside another
(BENCHMARKS.md). One after the other, each at full speed, they finish far sooner. The turn is an
``flock`` on a file in the temp folder (one a user), so it holds across the threads of a
pipeline, Dask worker processes and separate korflow commands on one machine alike.

Jobs that gain little from a second thread (a language model's small matrices) share one turn
instead, each on its part of the threads, in threads of one process (``shared_turn``): two
LSTM language models side by side on 2 cores trained 1.81x the tokens a second of one after
the other on both (BENCHMARKS.md).

A training runs in a thread of its own that ends with it (``in_own_thread``): torch's OpenMP
keeps a team of worker threads for every thread that ran a parallel region, and while more of
them live than there are cores, every team sleeps between regions instead of spinning. A
training in one Prefect worker thread after another's had run in a different one trained at
half speed (BENCHMARKS.md, "Trainings in threads that end").

``KORFLOW_THREADS`` sets the budget (default: the cores this process may use);
``KORFLOW_CPU_EXCLUSIVE=0`` lets heavy jobs overlap (a big machine, or one that runs other
work anyway). Jobs on a GPU do not take a turn.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from korflow.core.datasets import file_lock

T, R = TypeVar("T"), TypeVar("R")


def threads() -> int:
    """The thread budget: KORFLOW_THREADS, else the cores this process may run on."""
    value = os.environ.get("KORFLOW_THREADS", "").strip()
    if not value:
        return len(os.sched_getaffinity(0))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"KORFLOW_THREADS={value!r}: give a whole number of threads, 1 or more")
    return int(value)


def lock_path() -> Path:
    # One a user: another user's lock file would block this user's turns, or fail to open.
    return Path(tempfile.gettempdir()) / f"korflow-cpu-{os.getuid()}.lock"


@contextlib.contextmanager
def cpu_turn(job: str, log: Callable[[str], None] = print, exclusive: bool = True) -> Iterator[int]:
    """Run the body as the machine's one heavy CPU job, with torch (if loaded) on the whole
    thread budget; yields that budget. Waits, saying so, while another job has the turn."""
    shared = _SHARE.get()
    if shared is not None:  # a job of a shared turn: that turn is held, torch set for it
        yield shared
        return
    budget = threads()
    with contextlib.ExitStack() as stack:
        if exclusive and os.environ.get("KORFLOW_CPU_EXCLUSIVE", "1") != "0":
            stack.enter_context(_turn(job, log))
        stack.enter_context(torch_threads(budget))  # after the turn: it sets a process default
        yield budget


# The threads each job of the shared turn this context runs in has (None: not in one).
_SHARE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "korflow_cpu_share", default=None
)


@contextlib.contextmanager
def shared_turn(job: str, jobs: int, log: Callable[[str], None] = print) -> Iterator[int]:
    """One turn for ``jobs`` jobs that run at once in threads of this process (started with a
    copy of this context: ``contextvars.copy_context``), each on ``threads() // jobs`` threads
    (at least one); yields that share. A ``cpu_turn`` inside one of them takes no turn of its
    own and yields the share."""
    with cpu_turn(job, log) as budget:
        share = max(1, budget // jobs)
        token = _SHARE.set(share)
        try:
            yield share
        finally:
            _SHARE.reset(token)


def in_own_thread(work: Callable[[], R]) -> R:
    """``work()`` in a new thread (with a copy of this context) that ends when it returns, so
    that the OpenMP team its torch calls start ends with it; its result, or its error."""
    context, outcome = contextvars.copy_context(), {}

    def run() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as exc:  # raised in the caller's thread
            outcome["error"] = exc

    # A daemon: Ctrl-C ends the caller's wait at once, and the process does not wait for it.
    thread = threading.Thread(target=run, name="korflow-job", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def side_by_side(
    job: str, work: Callable[[T], R], items: Sequence[T], log: Callable[[str], None] = print
) -> list[R]:
    """``work(item)`` for every item at once, each in a thread of its own within one
    ``shared_turn``; their results in order. All run to their end; then the first error (in
    the items' order) is raised."""
    with shared_turn(job, len(items), log) as share, ThreadPoolExecutor(len(items)) as pool:

        def on_share(item: T) -> R:
            with torch_threads(share):
                return work(item)

        futures = [pool.submit(contextvars.copy_context().run, on_share, item) for item in items]
        return [future.result() for future in futures]


def _set_torch_threads(n: int) -> int | None:
    """torch (if loaded) on ``n`` threads in the calling thread; what it had (None: no torch).
    Read first: torch sets up a thread's OpenMP threads at its first parallel call from the
    last value set in any thread, which would undo a setting made before it."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch (if loaded) on ``n`` threads in the calling thread for the body, then as before."""
    before = _set_torch_threads(n)
    try:
        yield
    finally:
        if before is not None:
            _set_torch_threads(before)


def one_thread_here() -> None:
    """torch on one thread in the calling thread from now on: for a thread that outlives its
    work (a flow's, a Prefect worker's), whose small torch calls would otherwise start an
    OpenMP team that lives as long as it and slows every training (``in_own_thread``)."""
    _set_torch_threads(1)


@contextlib.contextmanager
def _turn(job: str, log: Callable[[str], None]) -> Iterator[None]:
    def waiting() -> None:
        log(f"{job}: waiting for the CPU (another korflow job is training on it)")

    with file_lock(lock_path(), on_wait=waiting) as waited:
        if waited is not None:
            log(f"{job}: got the CPU after {waited:.0f} s")
        start = time.monotonic()
        try:
            yield
        finally:
            for taken in _WATCHING:
                taken.append((job, start, time.monotonic()))


_WATCHING: list[list[tuple[str, float, float]]] = []


@contextlib.contextmanager
def turns_taken() -> Iterator[list[tuple[str, float, float]]]:
    """The turns this process's jobs take while the body runs, as they end: (job, start, end)
    in ``time.monotonic()`` seconds; to check or measure who had the cores when."""
    taken: list[tuple[str, float, float]] = []
    _WATCHING.append(taken)
    try:
        yield taken
    finally:
        _WATCHING.remove(taken)
