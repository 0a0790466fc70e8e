"""The corpus flow on small hand-made inputs, with a real Prefect API and a real MLflow store."""

import json
import os
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from flows.runners import task_runner
from korean.errors import CorpusFormatError
from tests.helpers import FIXTURES, corpus_overrides, states

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(inputs, runner="thread", **extra):
    from flows.corpus import corpus_flow

    flow = corpus_flow.with_options(task_runner=task_runner(runner))
    return flow(profile="quick", data_mirror=None, overrides=corpus_overrides(inputs, **extra))


@pytest.fixture(scope="module")
def first(inputs):
    return run(inputs)


def test_counts_tags_inputs_and_samples_are_tracked(first):
    r = mlflow.get_run(first.run_id)
    assert r.data.tags["korflow.stage"] == "corpus" and r.data.tags["korflow.profile"] == "quick"
    assert r.data.tags["korflow.prefect_flow_run_id"] == first.flow_run_id
    # counts are params: the metrics (the UI's charts) are what runs are compared by
    m = {k: int(v) for k, v in r.data.params.items() if v.isdigit()}
    assert not [k for k in r.data.metrics if k in m or k.endswith((".rows", ".tokens"))]
    assert set(r.data.metrics) >= {"duration_s", "wiki.text_mb"}
    assert m["nsmc.train.rows_read"] == 6 and m["nsmc.test.rows_read"] == 3
    assert m["nsmc.train.skipped.bad_label"] == 1 and m["nsmc.train.skipped.wrong_field_count"] == 1
    assert m["nsmc.ingest.rows"] == 9
    # 1003 is empty, 1004 only notes and emoji: dropped from train with their reasons;
    # 2002 cleans to nothing too, but the test split is kept whole.
    assert m["nsmc.clean.dropped.empty_input"] == 1
    assert m["nsmc.clean.dropped.empty_after_clean"] == 1
    assert m["nsmc.clean.kept_empty"] == 1 and m["nsmc.clean.rows_out"] == 7
    assert m["wiki.docs"] == 2 and m["wiki.skipped.redirect"] == 1
    assert m["wiki.skipped.non_article_namespace"] == 1 and m["wiki.skipped.empty_text"] == 1
    assert m["wiki.tokens"] > 20 and m["nsmc.vocab_size"] > 10
    assert r.data.params["tokenizer.backend"] == "mecab"
    assert len(r.data.params["input.nsmc_train.sha256"]) == 64
    assert {i.dataset.name for i in r.inputs.dataset_inputs} == {
        "nsmc_train",
        "nsmc_test",
        "kowiki",
    }
    artifacts = {a.path for a in MlflowClient().list_artifacts(first.run_id, "samples")}
    assert artifacts == {"samples/nsmc.tsv", "samples/wiki.tsv"}
    sample = Path(
        mlflow.artifacts.download_artifacts(run_id=first.run_id, artifact_path="samples/nsmc.tsv")
    )
    lines = sample.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "raw\tcleaned\ttokens"
    assert lines[1].split("\t")[1] == "이 영화 정말 재밌어요 ㅋㅋ 강추!!"  # reviews keep "!"


def test_vocabulary_never_sees_the_test_split(first):
    manifest = json.loads(Path(first.manifest).read_text(encoding="utf-8"))
    import pyarrow.parquet as pq

    vocab = set(
        pq.read_table(manifest["datasets"]["nsmc"]["vocab"]["path"]).column("token").to_pylist()
    )
    assert "영화" in vocab and "음악" not in vocab  # 음악 appears only in the test file
    tokens = pq.read_table(manifest["datasets"]["nsmc"]["tokens"][-1]["path"]).to_pylist()
    assert [t["split"] for t in tokens] == ["test"] * 3 and tokens[1]["tokens"] == []


def test_unchanged_rerun_is_served_from_the_cache(inputs, first):
    again = run(inputs)
    s = states(again.flow_run_id)
    for name in ("ingest_nsmc", "ingest_wiki", "clean_shard", "tokenize_shard", "build_vocabulary"):
        assert s[name] == {"Cached"}, (name, s)
    assert again.metrics == first.metrics


def test_changed_cleaning_option_reruns_only_what_depends_on_it(inputs, first):
    changed = run(inputs, clean__keep_symbols=True)  # Wikipedia's cleaning: keeps "." and "!"
    s = states(changed.flow_run_id)
    assert s["ingest_nsmc"] == {"Cached"} and s["ingest_wiki"] == {"Cached"}
    assert s["clean_shard"] == {"Completed", "Cached"}  # Wikipedia's shards, not NSMC's
    assert changed.metrics["wiki.tokens"] > first.metrics["wiki.tokens"]
    assert changed.metrics["nsmc.tokens"] == first.metrics["nsmc.tokens"]
    reviews = run(inputs, nsmc_clean__keep_digits=False)
    assert reviews.metrics["nsmc.tokens"] < first.metrics["nsmc.tokens"]  # 10점 loses 10
    assert reviews.metrics["wiki.tokens"] == first.metrics["wiki.tokens"]


def test_changed_tokenizer_option_keeps_the_cleaned_shards(inputs, first):
    s = states(run(inputs, tokenizer__drop_pos=["J"]).flow_run_id)
    assert s["clean_shard"] == {"Cached"} and s["tokenize_shard"] == {"Completed"}


def test_changed_input_file_reruns_its_corpus_only(inputs, first, tmp_path):
    train = tmp_path / "train.txt"
    train.write_text(
        (inputs / "nsmc-train.txt").read_text(encoding="utf-8") + "1010\t새로운 리뷰\t1\n",
        encoding="utf-8",
    )
    result = run(inputs, nsmc_files__train=str(train))
    s = states(result.flow_run_id)
    assert s["ingest_nsmc"] == {"Completed"} and s["ingest_wiki"] == {"Cached"}
    assert result.metrics["nsmc.ingest.rows"] == 10


def test_a_labelled_csv_with_named_columns_feeds_the_corpus(inputs, first, tmp_path):
    import csv

    import pyarrow.parquet as pq

    train = tmp_path / "mine.csv"
    with train.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(
            [
                ["sentiment", "review"],
                [1, "최고의 영화, 10점 만점에 10점"],
                [0, "배우들 연기가 너무 어색해서 보다가 잤다"],
                ["good", "라벨이 이상한 행"],
            ]
        )
    result = run(
        inputs,
        nsmc_files__train=str(train),
        nsmc_text_column="review",
        nsmc_label_column="sentiment",
    )
    m = {k: int(v) for k, v in mlflow.get_run(result.run_id).data.params.items() if v.isdigit()}
    assert m["nsmc.train.rows_read"] == 2 and m["nsmc.train.skipped.bad_label"] == 1
    manifest = json.loads(Path(result.manifest).read_text(encoding="utf-8"))
    tokens = manifest["datasets"]["nsmc"]["tokens"]
    rows = [
        r for s in tokens for r in pq.read_table(s["path"]).to_pylist() if r["split"] == "train"
    ]
    assert [(r["id"], r["label"]) for r in rows] == [(2, 1), (3, 0)]
    assert rows[0]["tokens"][:4] == ["최고", "의", "영화", ","]  # the quoted comma stays text


def test_corrupt_dump_fails_the_run_clearly(inputs, tmp_path):
    broken = tmp_path / "broken.xml.bz2"
    broken.write_bytes((inputs / "kowiki.xml.bz2").read_bytes()[:-30])
    with pytest.raises(CorpusFormatError, match="broken.xml.bz2"):
        run(inputs, wiki_source=str(broken))
    failed = mlflow.search_runs(
        experiment_names=["korflow"], order_by=["start_time DESC"], max_results=1
    )
    assert failed.iloc[0]["status"] == "FAILED"


def test_capped_remote_dump_is_streamed_not_downloaded(inputs, file_server):
    root, url = file_server
    (root / "kowiki-latest-pages-articles.xml.bz2").write_bytes(
        (inputs / "kowiki.xml.bz2").read_bytes()
    )
    downloads = Path(os.environ["KORFLOW_HOME"]) / "downloads"

    def saved() -> set:  # other tests' downloads may be there already
        return {(p, p.stat().st_mtime_ns) for p in downloads.rglob("*") if p.is_file()}

    before = saved()
    result = run(inputs, wiki_source=f"{url}/kowiki-latest-pages-articles.xml.bz2", wiki_max_docs=1)
    assert result.metrics["wiki.docs"] == 1
    r = mlflow.get_run(result.run_id)
    kowiki = [i.dataset for i in r.inputs.dataset_inputs if i.dataset.name == "kowiki"][0]
    assert url in kowiki.source
    assert saved() == before  # nothing was saved: the capped ingest read the stream


def test_failed_ingest_keeps_earlier_shards_whole(inputs, tmp_path):
    import bz2

    import pyarrow.parquet as pq

    text = (FIXTURES / "kowiki-tiny.xml").read_text(encoding="utf-8")
    cut = text.index("<page>", text.index("<title>비빔밥</title>") - 200)
    broken = tmp_path / "cut.xml.bz2"  # valid bz2 whose XML stops mid-dump, after 김치
    broken.write_bytes(bz2.compress(text[: cut + 30].encode("utf-8")))
    with pytest.raises(CorpusFormatError, match=r"cut.xml.bz2: malformed XML at line \d+"):
        run(inputs, wiki_source=str(broken), wiki_shard_docs=1)
    from korflow.core.datasets import digest_of, sha256_file

    # The quick profile caps Wikipedia at 2,000 articles; one article per shard here.
    out = (
        Path(os.environ["KORFLOW_HOME"])
        / "corpus"
        / "wiki"
        / digest_of(sha256_file(broken), 2000, None, 1)
    )
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet"]  # no .tmp left behind
    assert pq.read_table(out / "part-00000.parquet").column("title").to_pylist() == ["김치"]


def test_a_damaged_cached_shard_is_computed_again_and_the_entry_heals(inputs, first, caplog):
    from korflow.core.datasets import sha256_file

    manifest = json.loads(Path(first.manifest).read_text(encoding="utf-8"))
    shard = manifest["datasets"]["nsmc"]["tokens"][0]
    path = Path(shard["path"])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated in place
    healed = run(inputs)
    s = states(healed.flow_run_id)
    assert s["tokenize_shard"] == {"Cached", "Completed"} and s["clean_shard"] == {"Cached"}
    assert f"cached output {path} is damaged (sha256" in caplog.text
    assert sha256_file(path) == shard["sha256"]  # rewritten where it was, byte for byte
    assert healed.metrics["nsmc.tokens"] == first.metrics["nsmc.tokens"]
    assert states(run(inputs).flow_run_id)["tokenize_shard"] == {"Cached"}  # whole again
    path.unlink()  # damaged again, another way: healed again, then served again
    assert states(run(inputs).flow_run_id)["tokenize_shard"] == {"Cached", "Completed"}
    assert sha256_file(path) == shard["sha256"]
    assert states(run(inputs).flow_run_id)["tokenize_shard"] == {"Cached"}
