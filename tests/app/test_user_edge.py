"""The user's edge, as users meet it: the ``korflow`` command in a real subprocess. Every
mistake ends with one line that names the thing and the fix, settings are checked before any
work, deterministic failures are not retried, and stdout carries only results."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.helpers import FIXTURES, korflow, sentiment_overrides, store_of


def failed_in_one_line(out) -> str:
    """The last stderr line of a failed command, checked to be the error line."""
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), out.stderr[-3000:]
    return last


def show_config(*args, home: Path) -> dict:
    out = korflow(*args, "--show-config", home=home)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.usefixtures("prefect_api")
def test_a_corrupted_mirror_file_fails_at_once_naming_both_digests(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "nsmc").mkdir(parents=True)
    shutil.copy(FIXTURES / "nsmc-train.txt", mirror / "nsmc" / "ratings_train.txt")  # not NSMC's
    shutil.copy(FIXTURES / "nsmc-test.txt", mirror / "nsmc" / "ratings_test.txt")
    dump = tmp_path / "kowiki.xml"
    shutil.copy(FIXTURES / "kowiki-tiny.xml", dump)
    home = tmp_path / "home"
    out = korflow(
        "corpus",
        "--data-mirror",
        str(mirror),
        "--wiki-source",
        str(dump),
        home=home,
        shared_api=True,
    )
    last = failed_in_one_line(out)
    assert "ratings_train.txt: sha256 mismatch: expected e03b7d14" in last
    assert "AwaitingRetry" not in out.stderr  # a checksum does not change on a second try
    with store_of(home):
        runs = mlflow.search_runs(experiment_names=["korflow"], output_format="list")
    assert [r.info.status for r in runs] == ["FAILED"]
    assert "sha256 mismatch" in runs[0].data.tags["korflow.error"]


@pytest.mark.usefixtures("prefect_api")
def test_missing_inputs_and_empty_splits_are_refused_in_one_line(tmp_path):
    missing = tmp_path / "nowhere" / "kowiki.xml.bz2"
    nsmc = [f"nsmc_files.{s}={FIXTURES / f'nsmc-{s}.txt'}" for s in ("train", "test")]
    sets = [arg for pair in nsmc for arg in ("--set", pair)]
    out = korflow(
        "corpus", "--wiki-source", str(missing), *sets, home=tmp_path / "a", shared_api=True
    )
    assert str(missing) in failed_in_one_line(out)
    assert "AwaitingRetry" not in out.stderr

    header_only = tmp_path / "header.txt"
    header_only.write_text("id\tdocument\tlabel\n", encoding="utf-8")
    dump = tmp_path / "kowiki.xml"
    shutil.copy(FIXTURES / "kowiki-tiny.xml", dump)
    out = korflow(
        "corpus",
        "--wiki-source",
        str(dump),
        "--set",
        f"nsmc_files.train={header_only}",
        "--set",
        f"nsmc_files.test={FIXTURES / 'nsmc-test.txt'}",
        home=tmp_path / "b",
        shared_api=True,
    )
    assert "the NSMC train split has 0 usable rows" in failed_in_one_line(out)


def test_bad_settings_fail_before_any_stage_with_the_allowed_range(tmp_path):
    out = korflow("pipeline", "--set", "sentiment.train.epochs=0", home=tmp_path)
    last = failed_in_one_line(out)
    assert "pipeline stage sentiment" in last and "epochs must be >= 1, not 0" in last
    assert not (tmp_path / "mlflow.db").exists()  # nothing started, nothing tracked
    out = korflow("sentiment", "--set", "train.epochs=-1", home=tmp_path)
    assert "epochs must be >= 1, not -1" in failed_in_one_line(out)
    for setting, words in (
        ("model.dropout=1.5", "dropout must be in [0, 1), not 1.5"),
        ("train.lr=0", "lr must be > 0"),
        ("model.pooling=median", "pooling"),
        ("val_fraction=0.9", "val_fraction"),
    ):
        assert words in failed_in_one_line(korflow("sentiment", "--set", setting, home=tmp_path))
    out = korflow("corpus", "--set", "wiki_max_docs", home=tmp_path)
    assert "KEY=VALUE" in failed_in_one_line(out)


def test_set_reads_yaml_scalars_and_the_stage_prefixed_keys(tmp_path):
    url = "https://example.org/dump,2022.xml.bz2"
    corpus = show_config(
        "corpus",
        "--set",
        "clean.normalize=none",
        "--set",
        f"wiki_source={url}",
        "--set",
        "corpus.wiki_max_docs=200",  # the key `pipeline` takes works on the stage command
        "--set",
        "tokenizer.drop_pos=J,E",
        "--set",
        "clean.keep_digits=true",
        home=tmp_path,
    )
    assert corpus["clean"]["normalize"] == "none"  # the string the field accepts, not None
    assert corpus["wiki_source"] == url  # a comma in a URL is not a list
    assert corpus["wiki_max_docs"] == 200
    assert corpus["tokenizer"]["drop_pos"] == ["J", "E"]
    assert corpus["clean"]["keep_digits"] is True
    assert show_config("embed", "--set", "levels=jamo", home=tmp_path)["levels"] == ["jamo"]
    sentiment = show_config(
        "sentiment", "--set", "embeddings=random", "--set", "train.lr=1e-3", home=tmp_path
    )
    assert sentiment["embeddings"] == ["random"]  # not overridden by --embedding's default
    assert sentiment["train"]["lr"] == 0.001
    flag = show_config(
        "sentiment", "--set", "embeddings=random", "--embedding", "jamo", home=tmp_path
    )
    assert flag["embeddings"] == ["jamo"]  # a flag given wins
    pipeline = show_config("pipeline", "--set", "sentiment.train.epochs=3", home=tmp_path)
    assert pipeline["sentiment"]["train"]["epochs"] == 3
    # Each stage's settings once, by name: the one corpus every stage reads.
    assert "corpus" not in pipeline["sentiment"] and "corpus" not in pipeline["embed"]
    assert pipeline["corpus"]["nsmc_train_rows"] == 20_000  # the quick profile's


def test_commands_given_nothing_to_work_on_say_so_in_one_line(tmp_path):
    assert "needs a word" in failed_in_one_line(korflow("similar", "", home=tmp_path))
    unknown = "0123456789abcdef0123456789abcdef"
    last = failed_in_one_line(korflow("reproduce", unknown, home=tmp_path))
    assert f"no MLflow run '{unknown}'" in last
    debug = korflow("--debug", "reproduce", unknown, home=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr  # --debug shows it
    rc = tmp_path / "missing" / "mecabrc"
    out = korflow("tokenize", "영화", home=tmp_path, env={"MECABRC": str(rc)})
    assert f"MECABRC={rc} is not a file" in failed_in_one_line(out)


@pytest.mark.usefixtures("prefect_api")
def test_predict_scores_a_file_into_a_table_beside_its_columns(inputs, tmp_path):
    from flows.sentiment import sentiment_flow

    # A registered champion to score with.
    sentiment_flow(profile="quick", data_mirror=None, overrides=sentiment_overrides(inputs))
    reviews = pd.DataFrame({"id": [7, 8, 9], "document": ["정말 재밌어요", "", "최악의 영화"]})
    reviews.to_csv(tmp_path / "reviews.csv", index=False)

    def predict(source: str, *args: str):  # with the session's store, where the model is
        home = Path(os.environ["KORFLOW_HOME"])
        env = {"KORFLOW_PROGRESS": "1"}
        return korflow("predict", "--input", str(tmp_path / source), *args, home=home, env=env)

    out = predict("reviews.csv", "--output", str(tmp_path / "scored.parquet"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(tmp_path / "scored.parquet")  # stdout: where it went
    assert "rows/s" in out.stderr
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert list(scored.columns) == ["id", "document", "label", "probability"]
    assert scored["id"].tolist() == [7, 8, 9]
    assert scored["label"].isin([0, 1]).all() and scored["probability"].between(0, 1).all()
    # NSMC's own format: a .txt with a tab-separated header, and a gold label of its own.
    shutil.copy(FIXTURES / "nsmc-test.txt", tmp_path / "ratings.txt")
    out = predict("ratings.txt", "--output", str(tmp_path / "scored.jsonl"))
    assert out.returncode == 0, out.stderr[-3000:]
    scored = pd.read_json(tmp_path / "scored.jsonl", lines=True)
    assert list(scored.columns) == ["id", "document", "label", "predicted_label", "probability"]
    assert len(scored) == len(pd.read_csv(FIXTURES / "nsmc-test.txt", sep="\t", quoting=3))
    last = failed_in_one_line(predict("ratings.txt", "--column", "review"))
    assert "no column 'review'" in last and "'document'" in last


def test_reproduce_gives_settings_added_since_a_run_what_that_run_did():
    """A pipeline logged before NSMC had its own cleaning, the classifier its n-gram bag (and
    its dropout), training its moving average and fused AdamW and the lm variant its biLM memo
    re-runs as it ran, not with today's defaults."""
    from app.reproduce import as_logged
    from korflow.core.config.resolve import stage_config

    def before(settings):  # the dump as it was logged then
        if isinstance(settings, dict):
            return {
                k: before(v)
                for k, v in settings.items()
                if k
                not in ("nsmc_clean", "ngram_buckets", "ngram_dropout", "ema", "fused", "bilm_memo")
            }
        return settings

    logged = before(stage_config("pipeline", "quick").model_dump(mode="json"))
    assert "nsmc_clean" not in logged["corpus"]
    config = stage_config("pipeline", "quick", as_logged(logged))
    assert config.corpus.nsmc_clean == config.corpus.clean  # the seeds' regex, as then
    assert config.sentiment.corpus.nsmc_clean == config.corpus.clean
    assert config.sentiment.model.ngram_buckets == 0
    assert config.sentiment.model.ngram_dropout == 0 and config.sentiment.train.ema == 0
    assert not config.sentiment.train.fused and not config.seq2seq.train.fused
    assert not config.sentiment.bilm_memo  # the biLM was read live every epoch
    # A run logged with them keeps them.
    today = stage_config("pipeline", "quick")
    assert stage_config("pipeline", "quick", as_logged(today.model_dump(mode="json"))) == today


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reviews.csv", b"", r"--input .*reviews.csv is empty: give a file with a header"),
        (
            "reviews.csv",
            "document\n영화 좋다\n".encode("cp949"),
            r"--input .*reviews.csv is not UTF-8 \(byte 0xbf: .*iconv -f CP949 -t UTF-8",
        ),
        ("reviews.txt", "영화 좋다\n".encode("cp949"), r"--input .*reviews.txt is not UTF-8"),
    ],
)
def test_a_file_to_score_that_cannot_be_read_is_named_with_the_fix(
    tmp_path, name, content, message
):
    from app.scoring import read_input

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_input(path, "document")
