"""What the tests share, imported by name (tests never import each other): the fixtures' files,
the ``korflow`` command as a subprocess, the small settings each stage trains on in seconds,
and ways to read what a run left behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

# The console script ``korflow``, run from this interpreter (the venv's, whatever PATH says).
CLI = (sys.executable, "-m", "app.cli")


def cli(*args, env=None, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    """``korflow ARGS`` with this session's environment (its home, store and Prefect API),
    plus ``env``; text output captured unless ``kwargs`` say otherwise."""
    return subprocess.run(
        [*CLI, *args],
        **{"capture_output": True, "text": True, **kwargs},
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def korflow(*args, home, env=None, timeout=300, shared_api=False, **kwargs):
    """``korflow ARGS`` with its own home (MLflow store, Prefect), plus ``env``. Its Prefect
    API is a temporary one it starts, as a user's is; ``shared_api``: the session's (the
    ``prefect_api`` fixture), for tests about something else (a flow that fails), which then
    skip that server's start."""
    own = {"KORFLOW_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    drop = {"MLFLOW_TRACKING_URI"} | (set() if shared_api else {"PREFECT_API_URL"})
    full = {k: v for k, v in {**os.environ, **own}.items() if k not in drop}
    return subprocess.run(
        [*CLI, *args],
        **{"capture_output": True, "text": True, **kwargs},
        env={**full, **(env or {})},
        timeout=timeout,
    )


def states(flow_run_id: str) -> dict[str, set[str]]:
    """Task name -> the state names its runs ended in, for one flow run (Cached, Completed)."""
    import time
    from collections import defaultdict

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    # Task runs and their states reach the API as events, recorded asynchronously: read until
    # two reads a second apart agree and every state is final.
    deadline, previous = time.monotonic() + 60, None
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
        seen = [(r.id, r.state.name if r.state else None) for r in runs]
        settled = seen == previous and all(r.state and r.state.is_final() for r in runs)
        if settled or time.monotonic() > deadline:
            break
        previous = seen
        time.sleep(1)
    out = defaultdict(set)
    for task_run in runs:
        out[task_run.name.rsplit("-", 1)[0]].add(task_run.state.name)
    return dict(out)


def nested(base: dict, **extra) -> dict:
    """``nested(d, clean__keep_digits=True)`` sets d["clean"]["keep_digits"]."""
    for key, value in extra.items():
        node = base
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return base


TINY_FT = {"vector_size": 16, "min_count": 1, "epochs": 2, "bucket": 5000, "workers": 1}


def embed_overrides(inputs: Path) -> dict:
    """FastText settings that train in a second on the small inputs, with the tiny eval sets."""
    return {
        "syllable": dict(TINY_FT),
        "jamo": dict(TINY_FT),
        "projection_words": 10,
        "eval_files": {
            "ws353": str(inputs / "ws353-tiny.csv"),
            "analogy": str(inputs / "analogy-tiny.txt"),
        },
    }


def lm_overrides(val_fraction: float = 0.2) -> dict:
    """Language models that train in a second on the small inputs (``val_fraction``: the
    sentiment stage's, whose validation reviews the models must not read)."""
    tiny = {
        "max_train_units": None,
        "min_freq": 1,
        "model": {"embed_dim": 8, "hidden_size": 8, "num_layers": 1},
        "train": {"epochs": 2, "batch_size": 2, "bptt": 8, "device": "cpu"},
    }
    return {
        "val_fraction": val_fraction,
        "wiki_heldout": 0.48,
        "heldout_units": 300,
        "morpheme": tiny,
        "syllable": tiny,
    }


def corpus_overrides(inputs: Path, **extra) -> dict:
    """Corpus config that reads only the small local inputs (no mirror, no network)."""
    base = {
        "nsmc_files": {
            "train": str(inputs / "nsmc-train.txt"),
            "test": str(inputs / "nsmc-test.txt"),
        },
        "wiki_source": str(inputs / "kowiki.xml.bz2"),
        "sample_rows": 5,
    }
    return nested(base, **extra)


def sentiment_overrides(inputs: Path, **extra) -> dict:
    """The sentiment stage, with its corpus, FastText and LM stages, on the small inputs;
    ``extra`` as in ``nested``."""
    base = {
        "corpus": corpus_overrides(inputs),
        "embed": embed_overrides(inputs),
        "lm": lm_overrides(),
        "model": {"embed_dim": 16, "hidden_size": 8},
        "train": {"epochs": 2, "batch_size": 4},
        "min_freq": 1,
        "val_fraction": 0.2,
    }
    return nested(base, **extra)


def pipeline_overrides(inputs: Path, **stages) -> dict:
    """A whole pipeline on the small inputs: every stage trains in seconds."""
    base = {
        "corpus": corpus_overrides(inputs),
        "embed": embed_overrides(inputs),
        "lm": lm_overrides(),
        "sentiment": {
            "model": {"embed_dim": 16, "hidden_size": 8},
            "train": {"epochs": 2, "batch_size": 4, "device": "cpu"},
            "min_freq": 1,
            "val_fraction": 0.2,
        },
        "seq2seq": {
            "chatbot_file": str(FIXTURES / "chatbot-tiny.csv"),
            "attentions": ["dot"],
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "model": {"embed_dim": 16, "hidden_size": 16},
            "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
            "beam": 2,
        },
    }
    return {**base, **stages}


def stop_group(proc, sig: int, wait: float) -> None:
    """Signal a server started with ``start_new_session=True`` and its children; SIGKILL them
    if they have not ended after ``wait`` seconds."""
    import signal
    import subprocess

    os.killpg(proc.pid, sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


# The serving tests' small models, registered under their own names: ``korflow-sentiment`` and
# ``korflow-seq2seq`` belong to the flow tests, whose champion checks a ``champion`` here would
# change.
SERVED_SENTIMENT = "korflow-sentiment-serving-test"
SERVED_CHAT = "korflow-seq2seq-serving-test"


@contextlib.contextmanager
def store_of(home: Path):
    """MLflow pointed at the store a CLI subprocess used (under ``home``) for the ``with``
    body, then back at the session's: ``mlflow.set_tracking_uri`` also sets the environment
    variable, which the session's later flows would otherwise follow."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def clone_run(run_id: str) -> str:
    """A copy of a logged stage run (its tags, params, metrics and ``config/flow.json``) outside
    any pipeline, for tests that tamper with a run: the shared run stays as it was logged, so
    no later test depends on what an earlier one changed."""
    import tempfile

    import mlflow
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    nesting = ("mlflow.", "korflow.pipeline_")  # what would make it a stage of the pipeline
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith(nesting)}
    name = f"{run.info.run_name}-copy"
    copy_id = client.create_run(run.info.experiment_id, tags=tags, run_name=name).info.run_id
    params = [Param(k, v) for k, v in run.data.params.items()]
    metrics = [Metric(k, v, 0, 0) for k, v in run.data.metrics.items()]
    for start in range(0, max(len(params), len(metrics)), 100):  # MLflow's batch limit
        client.log_batch(copy_id, metrics[start : start + 100], params[start : start + 100])
    with tempfile.TemporaryDirectory() as tmp:
        record = client.download_artifacts(run_id, "config/flow.json", tmp)
        client.log_artifact(copy_id, record, "config")
    client.set_terminated(copy_id)
    return copy_id
