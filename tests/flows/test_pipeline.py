"""The whole DAG on the small inputs: nesting and tags in MLflow, the cache on a second run, a
failed branch, comparison reports and exact reproduction (real Prefect, MLflow, MeCab)."""

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest

from korflow.core import cpu
from tests.helpers import FIXTURES, cli, clone_run, pipeline_overrides, states

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(inputs, **stages):
    from flows.pipeline import pipeline_flow

    overrides = pipeline_overrides(inputs, **stages)
    return pipeline_flow(profile="quick", data_mirror=None, overrides=overrides)


CPU_TURNS: list[tuple[str, float, float]] = []  # the turns of the ``first`` run


@pytest.fixture(scope="module")
def first(inputs):
    """One pipeline run, with the turns its heavy jobs took on the CPU: (job, start, end)."""
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

    # Computed afresh (earlier test modules may have cached the same tiny models), so every
    # heavy job really runs and takes its turn.
    with (
        pytest.MonkeyPatch.context() as patch,
        temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}),
        cpu.turns_taken() as turns,
    ):
        patch.delenv("KORFLOW_CPU_EXCLUSIVE", raising=False)  # the default: take turns
        result = run(inputs)
    CPU_TURNS[:] = turns
    return result


def children(parent_id: str) -> list:
    found = mlflow.search_runs(
        experiment_names=["korflow"],
        filter_string=f"tags.`korflow.pipeline_run_id` = '{parent_id}'",
        output_format="list",
    )
    return [r for r in found if r.info.run_id != parent_id]


def test_one_parent_run_with_a_nested_run_per_stage(first):
    parent = mlflow.get_run(first.run_id)
    assert parent.data.tags["korflow.stage"] == "pipeline"
    assert parent.data.tags["korflow.prefect_flow_run_id"] == first.flow_run_id
    runs = children(first.run_id)
    stages = sorted(r.data.tags["korflow.stage"] for r in runs)
    # one corpus run (later stages reuse it), two FastText levels, three language models
    # (morphemes both ways, syllables forward), four embeddings, one seq2seq
    assert stages == (["corpus"] + ["embed"] * 2 + ["lm"] * 3 + ["sentiment"] * 4 + ["seq2seq"])
    for r in runs:
        tags = r.data.tags
        assert tags["mlflow.parentRunId"] == first.run_id
        assert tags["korflow.pipeline_flow_run_id"] == first.flow_run_id
        assert tags["korflow.profile"] == "quick" and tags["korflow.pipeline_profile"] == "quick"
        assert tags["korflow.prefect_flow_run_id"] not in ("", first.flow_run_id)
    sentiment = [r for r in runs if r.data.tags["korflow.stage"] == "sentiment"]
    fasttext = {r.info.run_id for r in runs if r.data.tags["korflow.stage"] == "embed"}
    assert {r.data.tags["korflow.fasttext_run_id"] for r in sentiment} - {"none"} == fasttext
    metrics = parent.data.metrics
    assert metrics["duration_s"] > 0 and {"corpus_seconds", "seq2seq_seconds"} <= set(metrics)


def test_every_stage_gets_a_thread_of_its_own(monkeypatch):
    # The stages' tasks wait on child flows, each holding a thread while its upstream stages
    # run: with fewer threads than stages, seq2seq (after the corpus only) queued behind
    # sentiment, waiting for FastText and the LMs, instead of running beside them. Stand-in
    # stages show it: FastText and the LMs run until seq2seq has started.
    from prefect import flow

    import flows.pipeline
    from flows.results import OneRun

    seq2seq_started, ended = threading.Event(), {}

    class StandIn(OneRun):
        def summary(self) -> str:
            return self.run_id

    def stand_in(stage):
        @flow(name=f"stand-in-{stage}")
        def stage_flow(profile, config, data_mirror, upstream=None):
            if stage == "seq2seq":
                seq2seq_started.set()
            elif stage in ("embed", "lm"):
                seq2seq_started.wait(20)
            ended[stage] = seq2seq_started.is_set()
            return StandIn(run_id=stage, flow_run_id="", tracking_uri="", seconds=0.0)

        return stage_flow

    for stage in flows.pipeline.FLOWS:
        monkeypatch.setitem(flows.pipeline.FLOWS, stage, stand_in(stage))
    result = flows.pipeline.pipeline_flow(profile="quick")
    assert set(result.stages) == set(flows.pipeline.FLOWS)
    assert ended["embed"] and ended["lm"], "seq2seq waited for a thread"

    # The CLI keeps the pipeline's own runner and gives --task-runner to the stages.
    from app import running

    class Recorder:
        replaced = False

        def with_options(self, **kwargs):
            self.replaced = True
            return self

        def __call__(self, **kwargs):
            return SimpleNamespace(flow_run_id=None)  # what the CLI reads of a flow's result

    import flows.pipeline

    for name in ("pipeline", "sentiment"):
        recorder = Recorder()
        with pytest.MonkeyPatch.context() as patch:
            if name == "pipeline":
                patch.setattr(flows.pipeline, "pipeline_flow", recorder)
            else:
                patch.setitem(flows.pipeline.FLOWS, name, recorder)
            if name == "pipeline":
                running.run_pipeline("quick", None, {}, show_config=False)
            else:
                running.run_stage(name, "quick", None, "thread", {})
        assert recorder.replaced == (name != "pipeline")


def test_heavy_jobs_take_turns_on_the_cpu(first):
    # Both branches run at once, but each FastText corpus, model and evaluation and each
    # training has the cores alone.
    turns = sorted(CPU_TURNS, key=lambda turn: turn[1])
    kinds = sorted(job.split()[0] for job, _, _ in turns)
    # The language models: two units' streams, one turn that the morpheme pair shares (both
    # n-gram baselines and trainings inside it), the syllable n-gram baseline and training.
    assert kinds == ["FastText"] * 6 + ["lm"] * 5 + ["sentiment"] * 4 + ["seq2seq"]
    assert "lm morpheme" in [job for job, _, _ in turns]
    for (_, _, end), (_, start, _) in zip(turns, turns[1:], strict=False):
        assert end <= start


def test_report_in_mlflow_and_prefect(first):
    text = mlflow.artifacts.load_text(f"runs:/{first.run_id}/report/pipeline.md")
    for heading in ("## embed", "## sentiment", "## seq2seq", "test_accuracy", "test_chrf"):
        assert heading in text
    from prefect import get_client

    with get_client(sync_client=True) as client:  # the Prefect UI's copy of the summary
        response = client.request(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {
                    "key": {"any_": ["korflow-pipeline-quick"]},
                    "flow_run_id": {"any_": [first.flow_run_id]},
                },
                "offset": 0,
                "limit": 50,
                "sort": "CREATED_DESC",
            },
        )
    found = response.json()
    assert found and found[0]["type"] == "markdown" and "## sentiment" in found[0]["data"]


def test_second_unchanged_run_is_served_from_the_cache(first, inputs):
    again = run(inputs)
    expected = {
        "corpus": ("ingest_nsmc", "clean_shard", "tokenize_shard"),
        "embed": ("export_corpus", "train_model", "evaluate_model"),
        "sentiment": ("prepare_data", "train_classifier"),
        "seq2seq": ("prepare_pairs", "run_baselines", "train_chat_model"),
    }
    for stage, tasks in expected.items():
        s = states(again.stages[stage].flow_run_id)
        for name in tasks:
            assert s[name] == {"Cached"}, (stage, name, s)
    for old, new in zip(
        first.stages["sentiment"].runs, again.stages["sentiment"].runs, strict=True
    ):
        assert old.test_accuracy == new.test_accuracy


def test_failed_branch_fails_the_pipeline_and_keeps_the_finished_stages(inputs, tmp_path):
    from flows.pipeline import PipelineFailed

    broken = tmp_path / "chatbot.csv"
    broken.write_text("질문,답\n안녕,반가워\n", encoding="utf-8")
    bad = pipeline_overrides(inputs)["seq2seq"] | {"chatbot_file": str(broken)}
    with pytest.raises(PipelineFailed, match="seq2seq") as error:
        run(inputs, stages=["corpus", "seq2seq"], seq2seq=bad)
    assert "finished and kept: corpus" in str(error.value)
    parent = mlflow.search_runs(
        experiment_names=["korflow"],
        filter_string="tags.`korflow.failed_stages` = 'seq2seq'",
        output_format="list",
    )[0]
    assert parent.info.status == "FAILED"
    assert [r.data.tags["korflow.stage"] for r in children(parent.info.run_id)] == ["corpus"]


def test_compare_writes_tables_and_plots(first, tmp_path):
    out = cli("compare", "--profile", "quick", "--out", str(tmp_path / "md"))
    assert out.returncode == 0, out.stderr[-2000:]
    report = Path(out.stdout.strip().splitlines()[-1])
    text = report.read_text(encoding="utf-8")
    for part in ("## sentiment", "## seq2seq", "## embed", "sentiment_learning_curves.png"):
        assert part in text
    assert first.run_id[:8] in text
    assert (tmp_path / "md" / "sentiment_over_runs.png").stat().st_size > 1000
    # The report's run is in the reports' experiment, out of the training runs' list.
    reports = mlflow.search_runs(experiment_names=["korflow-reports"], output_format="list")
    assert [r.data.tags["korflow.stage"] for r in reports] == ["compare"]
    assert not mlflow.search_runs(
        experiment_names=["korflow"], filter_string="tags.`korflow.stage` = 'compare'"
    ).shape[0]
    # Read at a glance: runs linked to their MLflow pages, the champions marked with the
    # distance from them, numbers for people, a heading for each plot.
    sentiment = first.stages["sentiment"].runs[0]
    assert f"/runs/{sentiment.run_id}?workflowType=machine_learning)" in text
    assert "champion-quick" in text and "val_accuracy vs champion" in text
    assert "e+0" not in text
    assert "## sentiment: key metrics over runs" in text and "## seq2seq: val_chrf by epoch" in text
    html = cli("compare", "--pipeline", first.run_id, "--format", "html", "--out", str(tmp_path))
    assert html.returncode == 0, html.stderr[-2000:]
    assert "<table" in (tmp_path / "report.html").read_text(encoding="utf-8")
    # For scripts: raw numbers and full run ids.
    out = cli("compare", "--pipeline", first.run_id, "--format", "json", "--out", str(tmp_path))
    rows = json.loads(Path(out.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8"))
    found = {r["run"]: r for r in rows["sentiment"]}
    assert found[sentiment.run_id]["test_accuracy"] == pytest.approx(
        sentiment.test_accuracy, abs=1e-12
    )
    out = cli("compare", "--pipeline", first.run_id, "--format", "csv", "--out", str(tmp_path))
    table = pd.read_csv(out.stdout.strip().splitlines()[-1])
    assert set(table["stage"]) >= {"corpus", "sentiment", "seq2seq"}
    none = cli("compare", "--since", "2999-01-01")
    assert none.returncode == 1 and "no finished korflow runs" in none.stderr


def test_the_fasttext_stage_name_of_old_runs_and_saved_filters_still_works(first):
    """The embed stage's runs were tagged ``korflow.stage=fasttext`` before the tag took the
    command's name: both the old runs and filters naming ``fasttext`` find the embed stage."""
    from korflow.core import compare, tracking

    new = compare.search(pipeline_run_id=first.run_id, stages=("fasttext",))
    assert list(new["stage"]) == ["embed", "embed"]
    with mlflow.start_run(experiment_id=tracking.setup()) as old:
        mlflow.set_tags({"korflow.stage": "fasttext", "korflow.level": "jamo", "korflow.unit": "x"})
    found = compare.search(stages=("embed",))
    assert found.loc[found["run_id"] == old.info.run_id, "stage"].tolist() == ["embed"]


def test_reproduce_a_stage_run_matches_exactly(first):
    from korflow.core import tracking

    jamo = next(r for r in first.stages["sentiment"].runs if r.embedding == "jamo")
    run_id = clone_run(jamo.run_id)
    mlflow.MlflowClient().set_tag(run_id, tracking.GIT_DIRTY, "false")
    out = cli("reproduce", run_id)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "uncommitted changes" not in " ".join(out.stderr.split())  # from a clean tree
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()[1:]]
    metrics = {r[2] for r in rows}
    assert {"test_accuracy", "val_accuracy", "test_loss"} <= metrics
    assert all(r[5] == "yes" for r in rows)
    assert not any("seconds" in m for m in metrics)


def test_reproduce_a_whole_pipeline_run_matches_exactly(first):
    # Every stage recomputed, the branches running side by side as in the original.
    out = cli("reproduce", first.run_id)
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()[1:]]
    assert out.returncode == 0, [r for r in rows if r[-1] != "yes"] or out.stderr[-3000:]
    assert {r[0] for r in rows} == {"corpus", "embed", "lm", "sentiment", "seq2seq"}
    assert {r[1] for r in rows if r[0] == "sentiment"} == {"random", "syllable", "jamo", "lm"}
    assert all(r[5] == "yes" for r in rows), [r for r in rows if r[5] != "yes"]


def _tampered(run_id: str, metric: str, unrepeatable: str = "") -> None:
    """Make a run's logged result disagree with what its code and data give."""
    client = mlflow.MlflowClient()
    value = client.get_run(run_id).data.metrics[metric]
    client.log_metric(run_id, metric, value + 0.125, step=999)
    if unrepeatable:
        client.set_tag(run_id, "korflow.nondeterministic", unrepeatable)


def test_reproduce_exits_1_on_a_real_mismatch_and_names_it(first):
    from korflow.core import tracking

    runs = first.stages["sentiment"].runs
    run_id = clone_run(next(r for r in runs if r.embedding == "random").run_id)
    _tampered(run_id, "test_accuracy")
    client = mlflow.MlflowClient()
    client.set_tag(run_id, tracking.GIT_COMMIT, "0123456789ab" * 3)
    client.set_tag(run_id, tracking.GIT_DIRTY, "true")
    out = cli("reproduce", run_id)
    assert out.returncode == 1
    differing = [line for line in out.stdout.splitlines() if line.endswith("\tNO")]
    assert len(differing) == 1 and "\ttest_accuracy\t" in differing[0]
    assert "1 of" in out.stderr and "exact metrics differ" in out.stderr
    # The run names the code that logged it, which is not today's.
    said = " ".join(out.stderr.split())
    assert "logged by commit 0123456789ab, the code is now" in said
    assert "was logged with uncommitted changes" in said  # so that commit is not its code either
    assert "repeats it exactly" not in said


def test_a_run_marked_unrepeatable_is_shown_but_not_held_to_exactness(first):
    syllable = next(r for r in first.stages["sentiment"].runs if r.embedding == "syllable")
    run_id = clone_run(syllable.run_id)
    _tampered(run_id, "test_loss", "gensim FastText with workers=2 …")
    out = cli("reproduce", run_id)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "\ttest_loss\t" in out.stdout and "not exact" in out.stdout
    assert "not compared exactly: gensim FastText with workers=2" in out.stderr


def test_changed_chatbot_file_reruns_only_the_seq2seq_stage(first, inputs, tmp_path):
    changed = tmp_path / "chatbot.csv"
    changed.write_text(
        (FIXTURES / "chatbot-tiny.csv").read_text(encoding="utf-8")
        + "새 질문이야,새 답이에요.,0\n",
        encoding="utf-8",
    )
    seq2seq = pipeline_overrides(inputs)["seq2seq"] | {"chatbot_file": str(changed)}
    result = run(inputs, seq2seq=seq2seq)
    for stage, name in (
        ("corpus", "tokenize_shard"),
        ("embed", "train_model"),
        ("sentiment", "train_classifier"),
    ):
        assert states(result.stages[stage].flow_run_id)[name] == {"Cached"}, stage
    s = states(result.stages["seq2seq"].flow_run_id)
    assert s["prepare_pairs"] == {"Completed"} and s["train_chat_model"] == {"Completed"}


# Bounded: a Dask worker that cannot unpickle a task closes, and the flow waits for workers
# that never come (this hung after test_sentiment_flow.py, whose model loads left a model's code
# folder, a partial korflow, on the sys.path the workers inherit: conftest's
# sys_path_as_found). A hang must end with every thread's stack, not hold CI for its 90
# minutes: the thread method, because the signal method never fires while the main thread
# waits on a lock; it ends the whole session.
@pytest.mark.timeout(600, method="thread")
def test_the_task_runner_reaches_nested_flows_in_worker_processes(inputs):
    # The sentiment stage runs the corpus and FastText stages as its own subflows: on a real
    # multi-process Dask cluster, their tasks run in the worker processes too, and the MLflow
    # runs they log still nest under the pipeline's run.
    from distributed import Client, LocalCluster, get_task_stream

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        result = run(inputs, stages=["sentiment"], task_runner=cluster.scheduler_address)
        workers = set(client.run(os.getpid).values())
    # Dask keys are "<task function>-<token>": the tasks of the nested corpus and FastText
    # flows ran on the cluster (the sentiment flow calls its trainings one at a time itself).
    names = {str(t["key"]).rsplit("-", 1)[0] for t in stream.data}
    assert {"tokenize_shard", "export_corpus", "train_model", "evaluate_model"} <= names, names
    assert workers and os.getpid() not in workers  # the workers are other processes
    # Every run the nested flows logged hangs under the pipeline's run (found by its tag).
    stages = [r.data.tags["korflow.stage"] for r in children(result.run_id)]
    assert stages.count("embed") == 2 and stages.count("sentiment") == 4, stages
    assert stages.count("lm") == 2, stages  # the morpheme biLM it reads, nothing more
    assert "corpus" in stages
