"""The sentiment flow on the small inputs: real Prefect, MLflow (registry included), KoNLPy."""

import json

import mlflow
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from korflow.core.registry import register
from korflow.serving.loading import load_pyfunc
from tests.helpers import cli, sentiment_overrides

pytestmark = pytest.mark.usefixtures("prefect_api")
ODD_INPUTS = ["", "   ", "😀😀🎬", "this movie was great", "재밌다 " * 2000, "최악의 영화"]


def run(inputs, **extra):
    from flows.sentiment import sentiment_flow

    overrides = sentiment_overrides(inputs, **extra)
    return sentiment_flow(profile="quick", data_mirror=None, overrides=overrides)


@pytest.fixture(scope="module")
def result(inputs):
    return run(inputs)


def predictor_files(model_uri: str, dst: str | None = None) -> str:
    """The folder (config, vocab, weights) packed inside a logged pyfunc model."""
    location = mlflow.get_logged_model(model_uri.split("/")[-1]).artifact_location
    return mlflow.artifacts.download_artifacts(f"{location}/artifacts/predictor", dst_path=dst)


def test_one_run_per_variant_with_the_named_metrics_and_artifacts(result):
    assert [r.embedding for r in result.runs] == ["random", "syllable", "jamo", "lm"]
    client = MlflowClient()
    for summary in result.runs:
        r = mlflow.get_run(summary.run_id)
        assert r.data.tags["korflow.stage"] == "sentiment"
        assert r.data.tags["korflow.embedding"] == summary.embedding
        fasttext = r.data.tags["korflow.fasttext_run_id"]
        if summary.embedding == "random":
            assert fasttext == "none"
        else:  # lm: its biLM beside the syllable vectors (lm_vectors)
            level = {"lm": "syllable"}.get(summary.embedding, summary.embedding)
            assert mlflow.get_run(fasttext).data.tags["korflow.level"] == level
        m = r.data.metrics
        for name in (
            "test_accuracy",
            "test_f1",
            "test_precision",
            "test_recall",
            "val_accuracy",
            "test_loss",
            "epoch_seconds",
        ):
            assert name in m, name
        n = r.data.params  # counts are params; train_rows, the learning curve's axis, a metric
        assert n["test_rows"] == "3" and m["train_rows"] + int(n["val_rows"]) == 4  # 6 - 2 empty
        epochs = client.get_metric_history(summary.run_id, "epoch_val_accuracy")
        assert [e.step for e in epochs] == [1, 2]
        timed = client.get_metric_history(summary.run_id, "epoch_duration_s")
        assert [e.step for e in timed] == [1, 2] and "epoch_epoch_seconds" not in m
        assert (
            r.data.params["train.epochs"] == "2" and r.data.params["embedding"] == summary.embedding
        )
        names = {a.path for a in client.list_artifacts(summary.run_id)}
        assert {"confusion_matrix.png", "learning_curve.png", "vocab.json"} <= names


def test_registered_with_champion_on_best_validation_accuracy(result):
    client = MlflowClient()
    versions = {r.version for r in result.runs}
    assert len(versions) == 4
    # Quick-profile models compete for the quick champion only.
    champion = client.get_model_version_by_alias("korflow-sentiment", "champion-quick")
    champion_val = mlflow.get_run(champion.tags["korflow.run_id"]).data.metrics["val_accuracy"]
    assert champion_val >= max(r.val_accuracy for r in result.runs)
    # Each run, the registered model and each version say what they are.
    for r in result.runs:
        note = mlflow.get_run(r.run_id).data.tags["mlflow.note.content"]
        assert f"{r.embedding} embeddings" in note and note.endswith("Profile quick.")
        said = client.get_model_version("korflow-sentiment", r.version).description
        assert note in said and f"(run {r.run_id})" in said and "val_accuracy" in said
    assert "took champion-quick" in champion.description
    assert "NSMC" in client.get_registered_model("korflow-sentiment").description


def test_the_lm_variant_reads_the_lm_stages_biLM_and_is_served_with_it(result):
    from korflow.serving.sentiment_predictor import SentimentPredictor

    lm = next(r for r in result.runs if r.embedding == "lm")
    run = mlflow.get_run(lm.run_id)
    forward, backward = (mlflow.get_run(i) for i in run.data.tags["korflow.lm_run_ids"].split(","))
    for source, direction in ((forward, "forward"), (backward, "backward")):
        assert source.data.tags["korflow.stage"] == "lm"
        assert source.data.tags["korflow.unit"] == "morpheme"
        assert source.data.tags["korflow.direction"] == direction
    folder = predictor_files(lm.model_uri)
    predictor = SentimentPredictor.load(folder)
    assert predictor.model.bilm is not None and predictor.model.config.elmo is not None
    # The served model holds the language models' trained weights (not a fresh start).
    logged = mlflow.search_logged_models(
        experiment_ids=[forward.info.experiment_id],
        filter_string=f"source_run_id = '{forward.info.run_id}'",
        output_format="list",
    )
    weights = f"{predictor_files(f'models:/{logged[0].model_id}')}/weights.pt"
    state = torch.load(weights, weights_only=True)
    assert torch.equal(predictor.model.bilm.forward_lm.embedding.weight, state["embedding.weight"])
    # Its word embeddings started from the syllable FastText vectors, as the syllable variant's:
    # the <unk> row (their mean), which no training review reaches, moved alike in both.
    syllable = next(r for r in result.runs if r.embedding == "syllable")
    tags = [mlflow.get_run(r.run_id).data.tags for r in (lm, syllable)]
    assert tags[0]["korflow.fasttext_run_id"] == tags[1]["korflow.fasttext_run_id"]
    theirs = SentimentPredictor.load(predictor_files(syllable.model_uri)).model.embedding.weight
    assert torch.allclose(predictor.model.embedding.weight[1], theirs[1])
    out = load_pyfunc(lm.model_uri).predict(pd.DataFrame({"document": ODD_INPUTS}))
    assert len(out) == len(ODD_INPUTS) and out["probability"].between(0, 1).all()


def test_pyfunc_round_trip_answers_any_input(result):
    from korflow.serving.sentiment_predictor import SentimentPredictor

    model = load_pyfunc(result.runs[0].model_uri)
    out = model.predict(pd.DataFrame({"document": ODD_INPUTS}))
    assert list(out.columns) == ["label", "probability"] and len(out) == len(ODD_INPUTS)
    assert set(out["label"]) <= {0, 1} and out["probability"].between(0, 1).all()
    folder = predictor_files(result.runs[0].model_uri)
    direct = SentimentPredictor.load(folder).predict(ODD_INPUTS)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), direct)


def test_model_and_vocabulary_that_do_not_match_fail_at_load(result, tmp_path):
    from korflow.serving.sentiment_predictor import SentimentPredictor

    folder = predictor_files(result.runs[0].model_uri, str(tmp_path))
    with open(f"{folder}/vocab.json", encoding="utf-8") as f:
        vocab = json.load(f)
    with open(f"{folder}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab + ["추가된토큰"], f, ensure_ascii=False)
    with pytest.raises(ValueError, match="the model and the vocabulary do not match"):
        SentimentPredictor.load(folder)


def test_predict_cli_uses_the_champion(result):
    out = cli("predict", "--json", "정말 재밌어요", "")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [r["text"] for r in rows] == ["정말 재밌어요", ""]
    assert all(r["label"] in (0, 1) and 0 <= r["probability"] <= 1 for r in rows)


def test_champion_moves_only_to_a_better_model(tmp_path):
    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    def logged(score):
        with mlflow.start_run() as run:
            mlflow.log_metric("val_accuracy", score)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=Constant(), pip_requirements=[]
            )
        return info.model_uri, run.info.run_id

    a, b, c = (
        register(uri, "korflow-test", run_id, "val_accuracy")
        for uri, run_id in (logged(s) for s in (0.80, 0.70, 0.90))
    )
    assert a.promoted and not b.promoted and c.promoted
    assert b.previous_score == pytest.approx(0.80) and c.previous_version == a.version
    holder = MlflowClient().get_model_version_by_alias("korflow-test", "champion")
    assert str(holder.version) == c.version


def test_a_given_fasttext_model_file_is_used_instead_of_the_stage(inputs, tmp_path):
    from korean.embeddings import FastTextParams, train_fasttext, write_corpus

    corpus = tmp_path / "corpus.txt"
    with open(corpus, "w", encoding="utf-8") as out:
        write_corpus(
            [["영화", "가", "재밌", "다"], ["배우", "연기", "좋", "다"]] * 20, "syllable", out
        )
    model, _ = train_fasttext(
        corpus, FastTextParams(vector_size=12, min_count=1, epochs=1, bucket=1000, workers=1)
    )
    model.save(str(tmp_path / "ft.model"))
    out = run(
        inputs,
        embeddings=["syllable"],
        register_model=False,
        fasttext_models={"syllable": str(tmp_path / "ft.model")},
    )
    r = mlflow.get_run(out.runs[0].run_id)
    assert r.data.tags["korflow.fasttext_run_id"] == f"file:{tmp_path / 'ft.model'}"
    assert r.data.params["model.embed_dim"] == "12"  # the dimension follows the given vectors
    assert out.runs[0].version is None


def test_fewer_labels_keep_the_vocabulary_and_validation_and_compare_plots_the_curve(
    inputs, result, tmp_path
):
    from korflow.core import compare

    few = run(inputs, embeddings=["random"], train_rows=1).runs[0]
    every = next(r for r in result.runs if r.embedding == "random")
    (m, mp), (full, fullp) = (
        (run.data.metrics, run.data.params)
        for run in map(mlflow.get_run, (few.run_id, every.run_id))
    )
    assert (m["train_rows"], full["train_rows"]) == (1, 3)
    assert mp["val_rows"] == fullp["val_rows"] and mp["vocab_size"] == fullp["vocab_size"]
    assert mp["train_rows"] == "1"
    runs = compare.search(stages=("sentiment",))
    runs = runs[runs["run_id"].isin([few.run_id, every.run_id])]
    curve = compare.label_curve(runs)
    assert curve["train_rows"].tolist() == [1, 3] and set(curve["variant"]) == {"random"}
    assert curve["test_accuracy_mean"].tolist() == [
        round(m["test_accuracy"], 4),
        round(full["test_accuracy"], 4),
    ]
    assert compare.label_curve(runs[runs["run_id"] == few.run_id]).empty  # one size: no curve
    report = compare.write_report(runs, tmp_path)
    assert "## sentiment by labelled reviews" in report.read_text(encoding="utf-8")
    assert (tmp_path / "sentiment_by_labelled_reviews.png").stat().st_size > 1000


def test_every_damaged_output_is_computed_again_and_the_run_repeats(inputs, korflow_home):
    """Issue 21's fault injection: a sentiment run's vocabulary, id tensors, embedding matrix
    and weights are truncated, then its FastText model; the same run again rewrites each one
    (the first four as they were), gets the same model, and reads no damaged file as good."""
    from korflow.core.datasets import sha256_file
    from tests.helpers import states

    def files() -> set:
        return {p for p in korflow_home.rglob("*") if p.is_file() and "mlartifacts" not in p.parts}

    def truncate(path):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    before = files()
    # Settings of its own (a seed, a FastText size), so that every output is this test's.
    again = dict(embeddings=["syllable"], split_seed=7, embed__syllable__vector_size=12)
    first = run(inputs, **again).runs[0]
    made = files() - before
    kinds = {
        "vocabulary": [p for p in made if p.name == "vocab.json" and "data" in p.parts],
        "ids": [p for p in made if p.name == "train.pt"],
        "matrix": [p for p in made if p.name.startswith("embedding-syllable")],
        "weights": [p for p in made if p.name == "weights.pt" and "runs" in p.parts],
        "fasttext": [p for p in made if p.name == "fasttext.model"],
    }
    assert {k: len(v) for k, v in kinds.items()} == dict.fromkeys(kinds, 1), kinds
    fasttext = kinds.pop("fasttext")[0]
    digests = {kind: sha256_file(paths[0]) for kind, paths in kinds.items()}
    for (path,) in kinds.values():
        truncate(path)
    healed = run(inputs, **again)
    s = states(healed.flow_run_id)
    for name in ("prepare_data", "embedding_matrix", "train_classifier"):
        assert s[name] == {"Completed"}, (name, s)
    for kind, (path,) in kinds.items():
        assert sha256_file(path) == digests[kind], kind  # rewritten as it was
    assert healed.runs[0].test_accuracy == first.test_accuracy
    # The FastText model is trained again (gensim stamps each save: new bytes, same vectors).
    truncate(fasttext)
    retrained = run(inputs, **again)
    from korean.embeddings import KoreanVectors

    assert KoreanVectors.load(str(fasttext), "syllable").kv.vector_size == 12  # whole again
    assert retrained.runs[0].test_accuracy == first.test_accuracy
    # New bytes, yet the next run settles on them: everything is served from the cache.
    s = states(run(inputs, **again).flow_run_id)
    assert all(s[name] == {"Cached"} for name in ("prepare_data", "train_classifier")), s
