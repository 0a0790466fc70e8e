"""The language-model flow on the small inputs: real Prefect, MLflow (registry), MeCab; its
runs, the n-gram baseline beside them, the served generator and ``korflow generate``."""

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from korflow.core import cpu
from korflow.serving.loading import load_pyfunc
from tests.helpers import cli, corpus_overrides, lm_overrides, states

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(inputs):
    from flows.lm import lm_flow

    overrides = {"corpus": corpus_overrides(inputs), **lm_overrides()}
    return lm_flow(profile="quick", data_mirror=None, overrides=overrides)


@pytest.fixture(scope="module")
def trained(inputs):
    with cpu.turns_taken() as turns:
        return run(inputs), turns


@pytest.fixture(scope="module")
def result(trained):
    return trained[0]


def test_the_morpheme_directions_train_side_by_side_in_one_turn(trained):
    # The quick profile's morpheme models share a turn (each on half the threads); the
    # syllable model, forward only, takes one of its own.
    jobs = [job for job, _, _ in trained[1]]
    assert "lm morpheme" in jobs and "lm syllable-forward" in jobs
    assert not [job for job in jobs if job.startswith(("lm morpheme-", "lm morpheme n-gram"))]


def test_one_tagged_run_per_unit_and_direction_with_its_perplexities(result):
    assert [(r.unit, r.direction) for r in result.runs] == [
        ("morpheme", "forward"),
        ("morpheme", "backward"),
        ("syllable", "forward"),
    ]
    client = MlflowClient()
    for summary in result.runs:
        r = mlflow.get_run(summary.run_id)
        tags, m = r.data.tags, r.data.metrics
        assert tags["korflow.stage"] == "lm" and tags["korflow.profile"] == "quick"
        assert (tags["korflow.unit"], tags["korflow.direction"]) == (
            summary.unit,
            summary.direction,
        )
        for name in (
            "val_perplexity",
            "val_perplexity_wiki",
            "val_perplexity_nsmc",
            "baseline_ngram_perplexity",
            "tokens_per_s",
            "best_epoch",
        ):
            assert name in m and m[name] > 0, name
        # The whole-set perplexity lies between the two held-out slices' (a weighted mean).
        low, high = sorted((m["val_perplexity_wiki"], m["val_perplexity_nsmc"]))
        assert low <= m["val_perplexity"] <= high
        epochs = client.get_metric_history(summary.run_id, "epoch_val_perplexity")
        assert [e.step for e in epochs] == [1, 2]
        assert r.data.params["seed"] == "42" and r.data.params["direction"] == summary.direction
        names = {a.path for a in client.list_artifacts(summary.run_id)}
        assert {"learning_curve.png", "config", "data"} <= names
        if summary.direction == "backward":
            assert "weights" in names and summary.version is None  # not served on its own
        else:
            assert summary.version  # registered, as the model named after its stage and variant
            (model,) = mlflow.search_logged_models(
                [r.info.experiment_id],
                filter_string=f"source_run_id = '{summary.run_id}'",
                output_format="list",
            )
            assert model.name == f"lm-{summary.unit}-forward"
            registered = "korflow-lm" if summary.unit == "syllable" else "korflow-lm-morpheme"
            version = client.get_model_version(registered, summary.version)
            assert version.source == f"models:/{model.model_id}"


def test_forward_models_are_registered_and_sample_fixed_prompts(result):
    client = MlflowClient()
    for unit, name in (("syllable", "korflow-lm"), ("morpheme", "korflow-lm-morpheme")):
        champion = client.get_model_version_by_alias(name, "champion-quick")
        assert mlflow.get_run(champion.tags["korflow.run_id"]).data.tags["korflow.unit"] == unit
        samples = result.samples[unit]
        assert len(samples) == 4 * 3  # three continuations of each fixed prompt
        # Each text begins with its prompt, as the model read it (the whole prompt).
        assert all(
            s["text"].replace(" ", "").startswith(s["prompt"].replace(" ", "")) for s in samples
        )
    syllable = result.find("syllable", "forward")
    table = mlflow.artifacts.load_dict(f"runs:/{syllable.run_id}/samples/continuations.json")
    assert set(table["columns"]) >= {"prompt", "sample", "text"} and len(table["data"]) == 12


def test_the_served_generator_is_seeded_and_takes_its_params(result):
    model = load_pyfunc(result.find("syllable", "forward").model_uri)
    prompts = pd.DataFrame({"prompt": ["김치는", ""]})
    params = {"n": 3, "seed": 5, "temperature": 1.0, "top_p": 0.95, "max_new": 12}
    one = model.predict(prompts, params=params)
    assert list(one.columns) == ["prompt", "sample", "text"] and len(one) == 6
    pd.testing.assert_frame_equal(one, model.predict(prompts, params=params))
    other = model.predict(prompts, params={**params, "seed": 6})
    assert not one["text"].equals(other["text"])
    assert all(t.startswith("김치는") for t in one["text"][:3])
    # max_new caps the continuation: 12 syllable units at most beyond the prompt.
    assert all(len(t.replace(" ", "")) <= len("김치는") + 12 for t in one["text"][:3])


def test_korflow_generate_answers_from_the_champion(result):
    def generate(*args):
        return cli("generate", "김치는", *args)

    out = generate("--n", "2", "--seed", "3", "--max-new", "10")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("김치는") for line in lines)
    assert "korflow-lm@champion-quick" in out.stderr  # says which model answered
    assert generate("--n", "2", "--seed", "3", "--max-new", "10").stdout == out.stdout
    bad = generate("--top-p", "2")
    assert bad.returncode == 2 and "top-p" in bad.stderr


def test_an_unchanged_rerun_is_served_from_the_cache(result, inputs):
    again = run(inputs)
    s = states(again.flow_run_id)
    for task in ("prepare_streams", "ngram_baseline", "train_language_model"):
        assert s[task] == {"Cached"}, (task, s[task])
    assert [r.val_perplexity for r in again.runs] == [r.val_perplexity for r in result.runs]


def test_damaged_language_model_files_are_computed_again(result, inputs):
    """Issue 21's fault injection for this stage: its token streams and weights truncated,
    the same run rewrites them as they were and scores the same."""
    from pathlib import Path

    from korflow.core.datasets import sha256_file

    forward = result.find("morpheme", "forward")
    streams = Path(forward.vocab).with_name("train.pt")
    damaged = [Path(forward.weights), streams]
    digests = [sha256_file(p) for p in damaged]
    for path in damaged:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = run(inputs)
    assert [sha256_file(p) for p in damaged] == digests  # rewritten as they were
    s = states(again.flow_run_id)
    assert "Completed" in s["prepare_streams"] and "Completed" in s["train_language_model"]
    assert again.find("morpheme", "forward").val_perplexity == forward.val_perplexity
