"""Task runner selection: Prefect's thread pool, or Dask (prefect-dask) for scale-out.

``KORFLOW_TASK_RUNNER`` / ``--task-runner``: ``thread`` (default), ``dask`` (a local cluster of
worker processes, one per core), or a scheduler address (``tcp://host:8786``) of an existing
Dask cluster.
"""

from __future__ import annotations

import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner


def task_runner(spec: str | None = None) -> TaskRunner:
    spec = (spec or os.environ.get("KORFLOW_TASK_RUNNER") or "thread").strip()
    workers = os.cpu_count() or 1
    if spec == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if spec == "dask":
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    if "://" in spec:
        return DaskTaskRunner(address=spec)
    raise ValueError(
        f"task runner {spec!r}: use thread, dask, or a Dask scheduler address tcp://HOST:PORT"
    )


def on_callers_runner(subflow):
    """``subflow`` on a copy of the task runner of the flow that calls it, so that
    ``--task-runner`` reaches every nested flow (Prefect runs a subflow on its own decorator's
    runner otherwise: threads)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.task_runner is None:
        return subflow
    return subflow.with_options(task_runner=context.task_runner.duplicate())


def result(future, *upstream):
    """``future.result()``; when the task never ran because an upstream task failed, that
    upstream's error (what the user must fix: a checksum, a missing file) instead of Prefect's
    ``UnfinishedRun: Run is in PENDING state``."""
    from prefect.exceptions import UnfinishedRun

    try:
        return future.result()
    except UnfinishedRun:
        for other in upstream:
            other.result()
        raise
