"""The whole DAG as one flow:

    corpus (NSMC + Wikipedia ingestion, concurrently; clean; tokenize)
      -> FastText (syllable and jamo)    -> sentiment (random, syllable, jamo, lm)
      -> language models (biLM)          ->
      -> seq2seq (its own data: beside the branch above, after the corpus)
    -> comparison report

On a CPU the heavy jobs of both branches (each FastText model, each training) take turns with
all the cores (``korflow.core.cpu``): side by side they would slow each other 10-30x.

Each stage is its own flow, run as a child flow inside a task so that independent branches run
concurrently. One MLflow parent run (``korflow.stage=pipeline``) holds a nested run per stage
run, all tagged with the pipeline's run id, Prefect flow-run id and profile. A failed branch
fails the pipeline clearly after the other branch has finished and the report is written with
what did finish; a re-run is served from the cached stages.
"""

from __future__ import annotations

import time
from typing import Any

import mlflow
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows.results import PipelineResult, StageResult, ending, flow_run_id
from flows.runners import task_runner
from korflow.core import compare, settings, tracking
from korflow.core.config.pipeline import PipelineConfig
from korflow.core.config.resolve import flow_settings
from korflow.core.secrets import redact
from korflow.core.stages import SPECS, load

FLOWS = {spec.name: load(spec.flow) for spec in SPECS}  # each stage's flow, in the DAG's order


class PipelineFailed(RuntimeError):
    pass


@task(cache_policy=NO_CACHE, task_run_name="{stage}")
def run_stage(
    stage: str,
    config: Any,
    data_mirror: str | None,
    upstream: dict[str, StageResult] | None = None,
    runner: str | None = None,
) -> StageResult:
    """One stage's flow as a child flow run (its tasks are cached, so a re-run is cheap), its
    tasks on the chosen task runner (e.g. the clean/tokenize map on a Dask cluster)."""
    kwargs = {"upstream": upstream} if stage != "corpus" else {}
    stage_flow = FLOWS[stage].with_options(task_runner=task_runner(runner))
    return stage_flow(profile=config.profile, config=config, data_mirror=data_mirror, **kwargs)


# The pipeline's own tasks only start child flows and wait for them (a stage waits for its
# upstream stages while holding a thread), so every stage needs a thread of its own, whatever
# runner the stages' tasks use: with fewer, a ready stage queues behind a waiting one.
@flow(
    name="korflow-pipeline",
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=len(FLOWS)),
)
def pipeline_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: PipelineConfig | None = None,
) -> PipelineResult:
    """Run the stages as a DAG on ``config`` (resolved settings of every stage), else on
    ``profile`` with ``overrides``; returns each stage's result and the report."""
    cfg = flow_settings("pipeline", profile, overrides, config)
    mirror_arg = settings.mirror_arg(data_mirror)
    logger = get_run_logger()
    prefect_run = flow_run_id()
    started = time.perf_counter()
    record = tracking.flow_record("pipeline", cfg, mirror_arg)
    # The pipeline's own settings only: each stage's are params of its own run (and all of
    # them are in config/flow.json); here they were another column per setting in the runs table.
    params = cfg.model_dump(mode="json", exclude=set(FLOWS))
    tags = {"korflow.prefect_flow_run_id": prefect_run}
    with tracking.stage_run("pipeline", cfg.profile, params, tags=tags, flow=record) as parent:
        run_id = parent.info.run_id
        mlflow.set_tag("korflow.pipeline_run_id", run_id)
        logger.info("pipeline MLflow run %s (%s)", run_id, redact(mlflow.get_tracking_uri()))
        with tracking.pipeline_scope(run_id, prefect_run, cfg.profile):
            futures = _submit(cfg, mirror_arg)
            results, failed = {}, {}
            for stage, future in futures.items():
                future.wait()
                state = future.state
                if state.is_completed():
                    results[stage] = future.result()
                else:
                    failed[stage] = state.message or state.name
        elapsed = time.perf_counter() - started
        mlflow.log_metrics(
            {"duration_s": elapsed, **{f"{s}_seconds": r.seconds for s, r in results.items()}}
        )
        report = pipeline_report(run_id, results, failed, elapsed)
        mlflow.log_text(report, "report/pipeline.md")
        create_markdown_artifact(
            report, key=f"korflow-pipeline-{cfg.profile}", description="korflow pipeline summary"
        )
        if failed:
            mlflow.set_tag("korflow.failed_stages", ",".join(failed))
            raise PipelineFailed(
                f"pipeline {run_id}: stage(s) {', '.join(failed)} failed "
                f"({'; '.join(f'{k}: {v}' for k, v in failed.items())}); finished and kept: "
                f"{', '.join(results) or 'none'}. Re-run to resume from the cached stages."
            )
    logger.info("pipeline done in %.0f s; MLflow run %s", elapsed, run_id)
    return PipelineResult(run_id=run_id, stages=results, report=report, **ending(started, elapsed))


def flow_of(stage: str):
    """The flow that runs ``stage``: a stage's own, or the pipeline."""
    return pipeline_flow if stage == "pipeline" else FLOWS[stage]


def _submit(cfg: PipelineConfig, mirror: str | None) -> dict[str, PrefectFuture]:
    """Submit the stages with their dependencies; Prefect runs what is ready concurrently."""
    futures: dict[str, PrefectFuture] = {}
    wanted = set(cfg.stages)

    def submit(stage: str, upstream: dict[str, PrefectFuture], after=()) -> None:
        if stage in wanted:
            futures[stage] = run_stage.submit(
                stage,
                getattr(cfg, stage),
                mirror,
                upstream or None,  # Prefect hands the task the stages' results
                cfg.task_runner,
                wait_for=[f for f in after if f is not None],
            )

    for spec in SPECS:  # in the DAG's order: a stage's upstream stages are submitted before it
        reads = spec.upstream
        after = []
        if spec.name == "seq2seq":
            # It reads its own data, and the stage its embedding starts from (if any); it waits
            # for the corpus stage only so that its training never competes with tokenization
            # for the CPU. The trainings and FastText models then take turns on the cores
            # (korflow.core.cpu).
            reads = {"random": (), "lm": ("lm",)}.get(cfg.seq2seq.embedding, ("embed",))
            after = [futures.get("corpus")]
        submit(spec.name, {s: futures[s] for s in reads if s in futures}, after)
    return futures


def pipeline_report(
    run_id: str,
    results: dict[str, StageResult],
    failed: dict[str, str],
    wall: float,
) -> str:
    """The Markdown summary a pipeline run logs to MLflow and shows as a Prefect artifact."""
    lines = [f"# korflow pipeline {run_id}", "", f"Wall time: {wall:.0f} s", ""]
    lines += ["| stage | status | seconds |", "|---|---|---:|"]
    for stage, result in results.items():
        lines.append(f"| {stage} | done | {result.seconds:.0f} |")
    for stage, why in failed.items():
        lines.append(f"| {stage} | **failed**: {why} | - |")
    lines.append("")
    for stage, table in compare.tables(compare.search(pipeline_run_id=run_id)).items():
        lines += [f"## {stage}", "", compare.display(table).to_markdown(index=False), ""]
    for result in results.values():
        lines += result.report_lines()
    return "\n".join(lines)
