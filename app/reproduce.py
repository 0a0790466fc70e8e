"""Re-run a past stage or pipeline run from the configuration it logged (``config/flow.json``)
and set its metrics beside the original's.

The re-run recomputes every task (Prefect's cache is refreshed, so nothing is copied from the
first run); on CPU with the logged seeds the metrics match exactly, except timings and the runs
tagged ``korflow.nondeterministic`` (multi-worker gensim, and what starts from it), whose
reason is printed and whose metrics are shown but not held to exactness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from flows.pipeline import flow_of
from flows.results import StageResult
from korflow.core import compare, settings, tracking
from korflow.core.config.resolve import stage_config

# Metrics that measure the machine, not the model: they differ between runs by nature.
TIMING_PARTS = ("seconds", "duration", "per_s", "peak_")


@dataclass
class Row:
    stage: str
    variant: str
    metric: str
    original: float
    reproduced: float | None
    unrepeatable: str = ""  # why this run cannot repeat exactly (its tag); "" when it can

    @property
    def matches(self) -> bool:
        return self.reproduced is not None and (
            self.original == self.reproduced
            or (math.isnan(self.original) and math.isnan(self.reproduced))
        )


def is_timing(metric: str) -> bool:
    return any(part in metric for part in TIMING_PARTS) or metric.endswith("_s")


def reproduce(run_id: str, data_mirror: str | None = None) -> tuple[dict, list[Row]]:
    """Re-run ``run_id``'s flow with its logged config; returns (record, metric rows)."""
    tracking.setup()
    try:
        original = mlflow.get_run(run_id)
    except MlflowException:
        raise ValueError(
            f"no MLflow run {run_id!r} at {mlflow.get_tracking_uri()}: copy a run id from "
            "`korflow compare` or the MLflow UI (and set MLFLOW_TRACKING_URI if the runs are "
            "elsewhere)"
        ) from None
    try:
        record = mlflow.artifacts.load_dict(f"runs:/{run_id}/config/flow.json")
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing file
        raise ValueError(
            f"run {run_id} has no config/flow.json (logged by korflow runs since the pipeline "
            f"release), so it cannot be re-run: {exc}"
        ) from None
    # Exactness holds for the code that logged the run: name the commit when it has changed.
    logged = original.data.tags.get(tracking.GIT_COMMIT, "unknown")
    now = tracking.code_version()["git_commit"]
    record = {
        **record,
        "code_changed": (logged, now) if logged != now else None,
        "logged_dirty": original.data.tags.get(tracking.GIT_DIRTY) == "true",
    }
    mirror = settings.mirror_arg(data_mirror or record.get("data_mirror"))
    stage = record["stage"]
    config = stage_config(stage, record["profile"], as_logged(record["overrides"]))
    result: StageResult = flow_of(stage)(profile=config.profile, config=config, data_mirror=mirror)
    return record, _compare(original, [mlflow.get_run(i) for i in result.run_ids])


def as_logged(logged: Any) -> Any:
    """A logged config with the settings added since it was logged set to what its run did, not
    to today's defaults: NSMC reviews were cleaned like Wikipedia before ``nsmc_clean``, the
    classifier had no n-gram bag before ``ngram_buckets`` and dropped no n-grams before
    ``ngram_dropout``, and training kept no moving average before ``ema`` and updated AdamW per
    tensor before ``fused``; the lm variant read its biLM live before ``bilm_memo`` and beside
    random embeddings before ``lm_vectors``; a unit's language models trained one after the
    other before ``side_by_side``."""
    if isinstance(logged, list):
        return [as_logged(v) for v in logged]
    if not isinstance(logged, dict):
        return logged
    logged = {k: as_logged(v) for k, v in logged.items()}
    if "nsmc_files" in logged and "clean" in logged:  # a corpus config
        logged.setdefault("nsmc_clean", logged["clean"])
    if "token_dropout" in logged:  # a classifier config
        logged.setdefault("ngram_buckets", 0)
        logged.setdefault("ngram_dropout", 0.0)
    if "embeddings" in logged and "max_len" in logged:  # a sentiment config
        logged.setdefault("bilm_memo", False)
        logged.setdefault("lm_vectors", None)
    if "directions" in logged and "max_vocab" in logged:  # a language-model unit's config
        logged.setdefault("side_by_side", False)
    if "label_smoothing" in logged and "patience" in logged:  # a training config
        logged.setdefault("ema", 0.0)
        logged.setdefault("fused", False)
    return logged


def _key(run) -> tuple[str, str]:
    stage = compare.stage_of(run.data.tags)
    return stage, compare.variant(stage, run.data.tags)


def _children(run) -> list:
    """A pipeline run's stage runs; a stage run itself."""
    if compare.stage_of(run.data.tags) != "pipeline":
        return [run]
    found = MlflowClient().search_runs(
        [run.info.experiment_id],
        f"tags.`korflow.pipeline_run_id` = '{run.info.run_id}'",
        max_results=1000,
    )
    return [r for r in found if r.info.run_id != run.info.run_id]


def _compare(original, reproduced: list) -> list[Row]:
    if compare.stage_of(original.data.tags) == "pipeline":
        pipeline = [r for r in reproduced if compare.stage_of(r.data.tags) == "pipeline"]
        reproduced = [c for p in pipeline for c in _children(p)]
    new = {_key(r): r for r in reproduced}
    rows = []
    for run in _children(original):
        key = _key(run)
        twin = new.get(key)
        for metric, value in sorted(run.data.metrics.items()):
            if is_timing(metric):
                continue
            again = (
                tracking.metric_or_count(twin.data.metrics, twin.data.params, metric)
                if twin
                else None
            )
            why = run.data.tags.get(tracking.NONDETERMINISTIC, "")
            rows.append(Row(key[0], key[1], metric, value, again, why))
    return rows
