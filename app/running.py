"""Running a stage's flow, or the pipeline's, from the command line: the settings resolved and
checked before any work, the temporary Prefect API started (one korflow at a time), the flow
run, and its result said: a summary on stderr, the MLflow run ids on stdout."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
from rich.markup import escape

from app.console import console, fail, quiet_tracebacks
from korflow.core import crash, settings
from korflow.core.secrets import redact


def overrides(scope: str | None, pairs: list[str] | None, flags: dict[str, Any]) -> dict:
    """The settings ``--set`` gives (a bare key is ``scope``'s: a stage's command; None: the
    pipeline's, whose keys name their stage), with the command's own flags on top where given."""
    from korflow.core.config.overrides import ConfigError, merge, parse_overrides

    try:
        given = parse_overrides(pairs or [], scope)
    except ConfigError as exc:
        fail(exc)
    return merge(given, {key: value for key, value in flags.items() if value is not None})


def run_stage(
    stage: str,
    profile: str,
    data_mirror: Path | None,
    task_runner: str | None,
    overrides: dict,
    show_config: bool = False,
):
    """A stage's flow, its tasks on the chosen task runner."""
    from flows.runners import task_runner as make_runner

    def with_runner(flow):
        return flow.with_options(task_runner=make_runner(task_runner))

    return _run(stage, profile, data_mirror, overrides, show_config, with_runner)


def run_pipeline(profile: str, data_mirror: Path | None, overrides: dict, show_config: bool):
    """The pipeline's flow: its stages run side by side on its own threads, each stage's tasks
    on the runner its settings name (``task_runner``)."""
    return _run("pipeline", profile, data_mirror, overrides, show_config, lambda flow: flow)


def _run(stage, profile, data_mirror, overrides, show_config, configure):
    """Resolve the settings once (a pipeline's: every stage's) and check the mirror, before any
    work; then run the flow on them."""
    from korflow.core.config.resolve import ConfigError, stage_config

    try:
        config = stage_config(stage, profile, overrides)
        mirror = settings.data_mirror(data_mirror)
    except (ConfigError, FileNotFoundError) as exc:
        fail(exc)
    if show_config:
        print(json.dumps(config.model_dump(mode="json"), indent=2, ensure_ascii=False))
        raise typer.Exit(0)
    import flows.pipeline
    from korflow.core import tracking

    try:
        tracking.check_store()
    except tracking.TrackingUnavailable as exc:
        fail(exc)
    flow = configure(flows.pipeline.flow_of(stage))
    start_prefect_api()
    crash.handle_sigterm()  # now that Prefect is imported: its SIGTERM bridge too
    quiet_tracebacks()
    result = flow(profile=profile, config=config, data_mirror=str(mirror) if mirror else None)
    let_prefect_record(result.flow_run_id)
    return result


def say(result, *more: str) -> None:
    """A flow's result: its summary and details on stderr, where its runs are (and ``more``
    lines), and its MLflow run ids on stdout, one a line, for scripts."""
    console.print(f"\n[bold green]{escape(result.summary())}[/]", soft_wrap=True)
    for line in result.details():
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"tracking URI {result.tracking_uri}", markup=False)
    if result.run_ids:
        from korflow.core import compare, tracking
        from korflow.core.sources import is_url

        where = compare.run_url(tracking.setup(), result.run_ids[0])
        local = not is_url(settings.tracking_uri())
        serve = f" (after `mlflow ui --backend-store-uri {redact(settings.tracking_uri())}`)"
        console.print(f"MLflow UI: {where}{serve if local else ''}", markup=False, soft_wrap=True)
    for line in more:
        console.print(line, markup=False)
    for run_id in result.run_ids:
        print(run_id)


def start_prefect_api() -> None:
    """Start the temporary Prefect API now, one korflow at a time per Prefect home: two first
    runs together would both migrate one new database, and one would print its tracebacks."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    from korflow.core.datasets import file_lock

    if PREFECT_API_URL.value():  # a real server: nothing to start
        return
    lock = file_lock(Path(PREFECT_HOME.value()) / "korflow-start.lock")
    with lock, get_client(sync_client=True) as client:
        client.api_healthcheck()


def let_prefect_record(flow_run_id: str | None, limit: float = 15.0) -> None:
    """Wait (``limit`` s at most) until the temporary Prefect API has recorded as finished the
    task runs of this flow run and its subflows: stopping it while it still records (behind
    another korflow's writes to the same database) would lose their final states and print
    its recorder's tracebacks. A real server records on after this command ends."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not flow_run_id:
        return
    deadline = time.monotonic() + limit
    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        runs, level = [UUID(flow_run_id)], [UUID(flow_run_id)]
        while level:  # the subflows, level by level
            children = FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=level))
            level = [r.id for r in client.read_flow_runs(flow_run_filter=children)]
            runs += level
        unfinished = TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=runs),
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING])),
        )
        while client.read_task_runs(task_run_filter=unfinished, limit=1):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
