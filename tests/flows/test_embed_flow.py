"""The FastText flow on the small inputs, with real Prefect, gensim and MLflow."""

import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
from gensim.models import FastText
from gensim.models.fasttext import load_facebook_model
from mlflow import MlflowClient

from korean.jamo_units import decompose
from tests.helpers import cli, corpus_overrides, nested

pytestmark = pytest.mark.usefixtures("prefect_api")
TINY = {"vector_size": 16, "min_count": 1, "epochs": 2, "bucket": 5000, "workers": 1}


def run(inputs, **extra):
    from flows.embed import embed_flow

    overrides = nested(
        {
            "corpus": corpus_overrides(inputs),
            "syllable": dict(TINY),
            "jamo": dict(TINY),
            "eval_files": {
                "ws353": str(inputs / "ws353-tiny.csv"),
                "analogy": str(inputs / "analogy-tiny.txt"),
            },
            "projection_words": 10,
        },
        **extra,
    )
    return embed_flow(profile="quick", data_mirror=None, overrides=overrides)


@pytest.fixture(scope="module")
def result(inputs):
    return run(inputs)


def test_one_tagged_run_per_model_with_metrics_and_artifacts(result):
    assert [(r.level, r.unit) for r in result.runs] == [
        ("syllable", "morpheme"),
        ("jamo", "morpheme"),
    ]
    for summary in result.runs:
        run = mlflow.get_run(summary.run_id)
        tags = run.data.tags
        assert tags["korflow.stage"] == "embed" and tags["korflow.level"] == summary.level
        assert tags["korflow.unit"] == "morpheme"
        assert tags["korflow.corpus_run_id"] == result.corpus_run_id
        m = run.data.metrics
        for name in (
            "ws353_spearman",
            "analogy_accuracy",
            "analogy_semantic_accuracy",
            "analogy_syntactic_accuracy",
            "analogy_sem1_test_accuracy",
            "analogy_syn1_test_distance",
            "words_per_s",
        ):
            assert name in m, name
        n = run.data.params  # counts are params
        assert "corpus_tokens" in n and not {"corpus_tokens", "analogy_items"} & set(m)
        assert n["ws353_pairs"] == "5" and n["analogy_items"] == "3"
        assert int(n["vocabulary_size"]) > 20
        assert run.data.params["fasttext.min_n"] == ("3" if summary.level == "jamo" else "1")
        assert run.data.params["seed"] == "42"
        names = {a.path for a in MlflowClient().list_artifacts(summary.run_id)}
        assert {"neighbours.txt", "projection.png", "vectors.vec", "model"} <= names
        model_files = {a.path for a in MlflowClient().list_artifacts(summary.run_id, "model")}
        assert model_files == {"model/fasttext.model"} or all(
            p.startswith("model/fasttext.model") for p in model_files
        )
        vec = Path(
            mlflow.artifacts.download_artifacts(run_id=summary.run_id, artifact_path="vectors.vec")
        )
        header, first = vec.read_text(encoding="utf-8").splitlines()[:2]
        assert int(header.split()[1]) == 16
        assert "ㅇㅕ" not in vec.read_text(encoding="utf-8")  # jamo keys are exported as Hangul
        # fastText's binary keeps the subwords: an unseen form gets the model's own vector.
        native = mlflow.artifacts.download_artifacts(
            run_id=summary.run_id, artifact_path="vectors.bin"
        )
        loaded = load_facebook_model(native).wv
        trained = FastText.load(summary.model_path).wv
        unseen = decompose("재밌었어요") if summary.level == "jamo" else "재밌었어요"
        assert unseen not in loaded.key_to_index
        assert np.allclose(loaded[unseen], trained[unseen], atol=1e-6)
        assert np.allclose(loaded.vectors, trained.vectors, atol=1e-6)


def test_projection_plot_is_a_png(result):
    png = Path(
        mlflow.artifacts.download_artifacts(
            run_id=result.runs[1].run_id, artifact_path="projection.png"
        )
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_similar_answers_for_an_unseen_inflected_form(result):
    out = cli("similar", "재밌었어요", "--level", "jamo", "--topn", "3")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not in vocabulary" in out.stderr
    assert result.runs[1].run_id in out.stderr
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()]
    assert len(rows) == 3 and all(len(r) == 2 and -1 <= float(r[1]) <= 1 for r in rows)


def test_eojeol_unit_trains_on_whitespace_words(inputs):
    out = run(inputs, levels=["syllable"], units=["eojeol"])
    summary = out.runs[0]
    assert summary.unit == "eojeol"
    vocab = Path(
        mlflow.artifacts.download_artifacts(run_id=summary.run_id, artifact_path="vectors.vec")
    )
    words = {line.split(" ", 1)[0] for line in vocab.read_text(encoding="utf-8").splitlines()[1:]}
    assert "재밌어요" in words  # whole eojeol, not morphemes


def test_empty_vocabulary_is_a_clear_error(inputs):
    from korean.embeddings import EmbeddingError

    with pytest.raises(EmbeddingError, match="left no words"):
        run(inputs, levels=["syllable"], syllable__min_count=10_000)


def test_a_model_in_a_local_store_is_read_in_place_not_copied(result):
    from app.embedding_runs import local_artifact

    folder = local_artifact(f"runs:/{result.runs[0].run_id}/model")
    assert folder is not None and folder.is_relative_to(Path(os.environ["KORFLOW_HOME"]))
    assert (folder / "fasttext.model").is_file()
    assert local_artifact("s3://bucket/korflow/model") is None  # remote: downloaded


def test_a_runs_duration_covers_its_training(inputs):
    # The model trains in a task before its run opens: the run starts when training began.
    fresh = run(inputs, levels=["syllable"], syllable__seed=7).runs[0]  # not from the cache
    got = mlflow.get_run(fresh.run_id)
    seconds = (got.info.end_time - got.info.start_time) / 1000
    assert seconds >= got.data.metrics["train_seconds"] > 0
    again = run(inputs, levels=["syllable"], syllable__seed=7).runs[0]  # served from the cache
    cached = mlflow.get_run(again.run_id).info
    assert cached.start_time > got.info.end_time  # not dated back to the first training
