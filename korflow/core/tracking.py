"""MLflow conventions shared by every stage.

Each stage run is tagged ``korflow.stage`` and ``korflow.profile`` and logs, besides its own
parameters and metrics, what makes it reproducible: the resolved configuration, the git
commit (and whether the tree was dirty), package versions, and the digest of every input.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource

from korflow.core import crash, settings
from korflow.core.datasets import file_lock
from korflow.core.epoch_log import log_missing_epochs
from korflow.core.errors import ERROR_TAG, one_line
from korflow.core.packages import TRACKED
from korflow.core.stages import SPEC

EXPERIMENT = os.environ.get("KORFLOW_EXPERIMENT", "korflow")
# What a stage's run is, for the run's description in the MLflow UI; {names} are its korflow.*
# tags.
DESCRIPTIONS = {
    **{name: spec.about for name, spec in SPEC.items()},
    "compare": "A korflow compare report: key metrics across the runs it found.",
}
NOTE = "mlflow.note.content"  # the tag MLflow shows as a run's description


def describe(stage: str, profile: str, tags: Mapping[str, str]) -> str:
    names = {k.removeprefix("korflow."): v for k, v in tags.items()}
    text = DESCRIPTIONS.get(stage, f"korflow {stage} stage.").format_map(defaultdict(str, names))
    return f"{text} Profile {profile}."


# `korflow compare`'s runs (its reports), kept out of the training runs' list.
REPORTS = f"{EXPERIMENT}-reports"
# The experiment's kind for MLflow 3's UI: model training, so it opens on the runs (an
# experiment without it may open on the GenAI overview, traces and evaluations).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


# Tag of a run whose metrics cannot repeat bit for bit (the value says why); korflow reproduce
# prints the reason and leaves its metrics out of the exact comparison.
NONDETERMINISTIC = "korflow.nondeterministic"
# Tag of the commit that logged a run; korflow reproduce names it when the code has moved on.
GIT_COMMIT = "korflow.git_commit"
GIT_DIRTY = "korflow.git_dirty"  # "true": logged with uncommitted changes to tracked files


def inherited_nondeterminism(fasttext: Mapping[str, Any] | None) -> dict[str, str]:
    """The tag for a run that starts from FastText vectors which cannot repeat bit for bit."""
    if not fasttext or not fasttext.get("nondeterministic"):
        return {}
    why = f"starts from FastText run {fasttext['run_id']}: {fasttext['nondeterministic']}"
    return {NONDETERMINISTIC: why}


_SET_UP: set[tuple[str, str]] = set()  # (tracking URI, experiment) prepared in this process


class TrackingUnavailable(RuntimeError):
    """The tracking store cannot be used: said in one line before any work starts."""


def check_store(timeout: float = 5.0) -> None:
    """Fail in seconds, before any stage starts, when the runs could not be logged: a tracking
    server that does not answer (MLflow's own retries would take minutes to say so), or a
    SQLite store that cannot be written."""
    uri = settings.tracking_uri()
    if uri.startswith(("http://", "https://")):
        import requests

        from korflow.core.secrets import redact
        from korflow.core.sources import http_session

        try:  # any answer means it is up; the session sends a URL's credentials as a header
            http_session(retries=0).get(uri.rstrip("/") + "/health", timeout=timeout)
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise TrackingUnavailable(
                f"MLflow tracking server {redact(uri)} does not answer ({reason} within "
                f"{timeout:.0f} s): start it, or point MLFLOW_TRACKING_URI at one that runs "
                "(unset it for the local SQLite store)"
            ) from None
    elif uri.startswith("sqlite:///"):
        import sqlite3

        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            return  # created at the first run, under its lock
        try:
            with contextlib.closing(sqlite3.connect(path, 60, isolation_level=None)) as db:
                db.execute("BEGIN IMMEDIATE")
                try:  # a write that the rollback undoes: a read-only store refuses it
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    db.execute(f"PRAGMA user_version = {int(version)}")
                finally:
                    db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise TrackingUnavailable(
                f"MLflow store {path} cannot be written ({exc}): make it writable, or set "
                "MLFLOW_TRACKING_URI (or KORFLOW_HOME) to a store you can write"
            ) from None


def setup(name: str | None = None) -> str:
    """Point MLflow at the tracking URI and make sure the experiment ``name`` (default: the
    training runs', EXPERIMENT) exists; return its id. The first time in a process, also
    prepare the store and close the runs of killed processes."""
    name = name or EXPERIMENT
    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    first = (uri, name) not in _SET_UP
    _SET_UP.add((uri, name))
    if first and uri.startswith("sqlite:///"):
        # A new SQLite store creates and migrates its tables on first use; two korflow
        # commands starting together on an empty store would both migrate it and one would
        # crash (alembic). One at a time, under a lock beside the database file.
        with file_lock(Path(uri.removeprefix("sqlite:///") + ".lock")):
            mlflow.MlflowClient().search_experiments(max_results=1)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if first:
            mark_kind(experiment)
            close_orphaned_runs(experiment.experiment_id)
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:"):  # local store: keep artifacts beside it
        location = (settings.home() / "mlartifacts").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
    except mlflow.exceptions.MlflowException:  # created concurrently
        return mlflow.get_experiment_by_name(name).experiment_id


def mark_kind(experiment) -> None:
    """Give an experiment created before korflow set its kind that kind (a kind chosen in the
    UI stays)."""
    for key, value in EXPERIMENT_KIND.items():
        if key not in experiment.tags:
            mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, key, value)


def code_version() -> dict[str, str]:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return {
        "git_commit": commit or "unknown",
        "git_dirty": str(bool(git("status", "--porcelain", "--untracked-files=no"))).lower()
        if commit
        else "unknown",
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def log_counts(counts: Mapping[str, int]) -> None:
    """Counts (rows, tokens, pairs, vocabulary sizes) say what a run read, not how well it did:
    they are params, so that the metric columns and charts hold what runs are compared by.
    Runs logged before 2026-12-02 have them as metrics; compare and reproduce read either."""
    mlflow.log_params({k: int(v) for k, v in counts.items()})


def metric_or_count(metrics: Mapping[str, Any], params: Mapping[str, Any], key: str):
    """A run's ``key``: its metric, else its count (a param now; a metric in runs logged before
    2026-12-02, ``log_counts``); None when it has neither, or a count that is not a number."""
    value = metrics.get(key)
    if value is not None and value == value:  # NaN: a table's empty cell
        return value
    try:
        return float(params[key])
    except (KeyError, TypeError, ValueError):
        return value


def split_counts(values: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, int]]:
    """(metrics, counts) of a stage's results, where the counts are its whole numbers."""
    counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
    return {k: v for k, v in values.items() if k not in counts}, counts


# MLflow's SQL store looks a dataset up, then inserts it when missing: two runs of this process
# logging the same dataset at once (the LM directions side by side) both insert, and one fails
# on the table's unique key.
_LOGGING_INPUTS = threading.Lock()


def log_input_file(
    name: str, source: str, sha256: str, context: str, rows: int | None = None
) -> None:
    """Record an input dataset (file, folder or URL) with its digest in the run's inputs."""
    where = (
        HTTPDatasetSource(source)
        if source.startswith(("http://", "https://"))
        else LocalArtifactDatasetSource(str(source))
    )
    dataset = MetaDataset(where, name=name, digest=sha256[:32])
    with _LOGGING_INPUTS:
        mlflow.log_input(dataset, context=context)
    mlflow.log_param(f"input.{name}.sha256", sha256)
    if rows is not None:
        log_counts({f"input.{name}.rows": rows})


# The pipeline run that stage runs nest under. A context variable, not MLflow's active run:
# stages run in Prefect worker threads, which copy the context but not MLflow's run stack.
_PIPELINE: ContextVar[dict[str, str] | None] = ContextVar("korflow_pipeline", default=None)


@contextmanager
def pipeline_scope(run_id: str, flow_run_id: str, profile: str) -> Iterator[None]:
    token = _PIPELINE.set(
        {
            "korflow.pipeline_run_id": run_id,
            "korflow.pipeline_flow_run_id": flow_run_id,
            "korflow.pipeline_profile": profile,
        }
    )
    try:
        yield
    finally:
        _PIPELINE.reset(token)


def flow_record(stage: str, cfg: Any, data_mirror: str | None, **narrow: Any) -> dict[str, Any]:
    """What ``korflow reproduce`` needs to re-run a stage run: the flow, the profile, the full
    resolved config (a pydantic model) narrowed to this run (e.g. one embedding variant)."""
    return {
        "stage": stage,
        "profile": cfg.profile,
        "data_mirror": data_mirror,
        "overrides": {**cfg.model_dump(mode="json"), **narrow},
    }


def close_orphaned_runs(experiment_id: str) -> list[str]:
    """End FAILED the runs left RUNNING on this host by a process that is gone (kill -9, out of
    memory): a crashed run never stays RUNNING past the next korflow start."""
    host = socket.gethostname()
    client = mlflow.MlflowClient()
    closed = []
    for run in client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`korflow.host` = '{host}'",
    ):
        pid = int(run.data.tags.get("korflow.pid") or 0)
        if pid and not crash.alive(pid):
            client.set_tag(
                run.info.run_id,
                "korflow.failure",
                f"process {pid} on {host} ended without closing this run (killed?); closed "
                "by the next korflow start",
            )
            client.set_terminated(run.info.run_id, "FAILED")
            closed.append(run.info.run_id)
    if closed:
        print(f"korflow: {len(closed)} run(s) of killed processes marked FAILED", file=sys.stderr)
    return closed


def log_training(
    run_id: str,
    config: Mapping[str, Any],
    model: Mapping[str, Any],
    history: list[Mapping[str, Any]],
    logged: list[int],
) -> None:
    """After a training inside ``run_id``: its ``model``'s settings (known once built:
    vocabulary and embedding sizes) as params and in the resolved config, and the epochs of its
    ``history`` not ``logged`` to the run as they ended (a cached result, the epochs before a
    resume)."""
    mlflow.log_params({k: str(v)[:6000] for k, v in flatten({"model": model}).items()})
    mlflow.log_dict({**config, "model": model}, "config/resolved.json")
    log_missing_epochs(run_id, history, logged)


@contextmanager
def stage_run(
    stage: str,
    profile: str,
    config: Mapping[str, Any],
    seed: int | None = None,
    tags: Mapping[str, str] | None = None,
    flow: Mapping[str, Any] | None = None,
    start_time: float | None = None,
    experiment: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run for one stage, with the korflow tags and the reproducibility record.
    ``start_time`` (seconds since the epoch): when its work began, if before the run opens (a
    model trained in a task before its run is logged), so that the run's duration covers it.
    ``experiment``: another than the training runs' (the reports of ``korflow compare``).

    ``flow`` is what re-runs it: the stage's flow and its full resolved config, logged as
    ``config/flow.json`` for ``korflow reproduce``. Inside a pipeline the run nests under the
    pipeline's run and carries its ids."""
    experiment_id = setup(experiment)
    version = code_version()
    pipeline = _PIPELINE.get()
    run_tags = {
        "korflow.stage": stage,
        "korflow.profile": profile,
        GIT_COMMIT: version["git_commit"],
        GIT_DIRTY: version["git_dirty"],
        **crash.owner_tags(),
        **(pipeline or {}),
        **(tags or {}),
    }
    active = mlflow.active_run()
    parent = active.info.run_id if active else None
    if pipeline and parent is None:
        parent = pipeline["korflow.pipeline_run_id"]
    opened = {"run_name": f"{stage}-{profile}", "tags": run_tags}
    if start_time is not None:  # MLflow's start_run takes no start time: create the run
        if parent:
            run_tags["mlflow.parentRunId"] = parent
        created = mlflow.MlflowClient().create_run(
            experiment_id, start_time=int(start_time * 1000), **opened
        )
        opened = {"run_id": created.info.run_id}
    with mlflow.start_run(
        experiment_id=experiment_id,
        nested=active is not None,
        parent_run_id=parent if active is None and start_time is None else None,
        **opened,
    ) as run:
        mlflow.set_tag(NOTE, describe(stage, profile, run_tags))
        if flow is not None:
            mlflow.log_dict(dict(flow), "config/flow.json")
        params = flatten(config)
        if seed is not None:
            params["seed"] = seed
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
        mlflow.log_dict(dict(config), "config/resolved.json")
        mlflow.log_dict(
            {
                "python": sys.version,
                "platform": platform.platform(),
                **version,
                "packages": package_versions(),
            },
            "config/environment.json",
        )
        try:
            yield run
        except BaseException as exc:  # the run ends FAILED saying why, as the CLI does
            mlflow.set_tag(ERROR_TAG, one_line(exc)[:5000])
            raise
