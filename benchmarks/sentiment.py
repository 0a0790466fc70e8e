"""Sentiment benchmark: LSTM test accuracy per embedding variant and seed on the full NSMC test
set, next to a TF-IDF + logistic-regression baseline on the same tokens.

    KORFLOW_HOME=... python benchmarks/sentiment.py baseline
    KORFLOW_HOME=... python benchmarks/sentiment.py lstm random 1 [--set train.epochs=N ...]
    KORFLOW_HOME=... python benchmarks/sentiment.py all [--seeds 1 2 3] [--set KEY=VALUE ...]
    KORFLOW_HOME=... python benchmarks/sentiment.py curve [--sizes 1000 5000 20000]
        [--embeddings random syllable lm] [--seeds 1 2 3]    # the learning curve (train_rows)

The corpus stage (full profile) must have run under KORFLOW_HOME. FastText vectors come from
``benchmarks/embeddings.py`` when its saved morpheme models are under KORFLOW_HOME/embed/bench/,
else from the full FastText stage (cached after a full pipeline run). ``--set`` overrides the
sentiment stage's settings as on the command line (how the recipe was chosen on validation).
Each run is a fresh process (its own peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import peak_mb, run_jobs  # noqa: E402


def _home() -> Path:
    from korflow.core import settings

    settings.configure()
    return settings.home()


def baseline() -> dict:
    """TF-IDF (uni+bigrams of the corpus morphemes) + logistic regression; C chosen on the
    validation split carved from train exactly as the LSTM's (seed 42, 10%)."""
    import pyarrow as pa
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from korflow.core.datasets import Shard

    manifest = json.loads((_home() / "corpus" / "manifest-full.json").read_text())
    shards = [Shard(**s) for s in manifest["datasets"]["nsmc"]["tokens"]]
    rows = pa.concat_tables([s.read(["label", "split", "tokens"]) for s in shards]).to_pylist()
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    random.Random(42).shuffle(train)
    n_val = round(len(train) * 0.1)
    val, train = train[:n_val], train[n_val:]
    start = time.perf_counter()
    tfidf = TfidfVectorizer(
        analyzer=lambda tokens: (
            tokens + [a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)]
        ),
        min_df=2,
        sublinear_tf=True,
    )
    x_train = tfidf.fit_transform([r["tokens"] for r in train])
    x_val, x_test = (tfidf.transform([r["tokens"] for r in part]) for part in (val, test))
    y_train, y_val, y_test = ([r["label"] for r in part] for part in (train, val, test))
    best = max(
        (LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train).score(x_val, y_val), c)
        for c in (0.5, 1.0, 2.0, 4.0, 8.0)
    )
    model = LogisticRegression(C=best[1], max_iter=2000).fit(x_train, y_train)
    return {
        "model": "TF-IDF + logistic regression",
        "C": best[1],
        "val_accuracy": best[0],
        "test_accuracy": model.score(x_test, y_test),
        "seconds": round(time.perf_counter() - start),
        "test_rows": len(test),
        "peak_rss_mb": peak_mb(),
    }


def lstm(embedding: str, seed: int, sets: list[str]) -> dict:
    home = _home()
    os.environ.setdefault("KORFLOW_PROGRESS", "0")
    from flows.sentiment import sentiment_flow
    from korflow.core.config.overrides import parse_overrides

    models = {
        lv: str(home / "embed" / "bench" / f"morpheme-{lv}.model") for lv in ("syllable", "jamo")
    }
    overrides = parse_overrides(sets)
    overrides = {
        **overrides,
        "embeddings": [embedding],
        "register_model": False,
        "train": {**overrides.get("train", {}), "seed": seed},
    }
    if all(Path(m).is_file() for m in models.values()):
        overrides["fasttext_models"] = models
    start = time.perf_counter()
    run = sentiment_flow(
        profile="full", data_mirror=os.environ["KORFLOW_DATA_MIRROR"], overrides=overrides
    ).runs[0]
    import mlflow

    m = mlflow.get_run(run.run_id).data.metrics
    return {
        "model": f"LSTM {embedding}",
        "seed": seed,
        "train_rows": int(m["train_rows"]),
        "test_accuracy": m["test_accuracy"],
        "test_f1": m["test_f1"],
        "val_accuracy": m["val_accuracy"],
        "best_epoch": m["best_epoch"],
        "epochs_run": len(
            mlflow.MlflowClient().get_metric_history(run.run_id, "epoch_val_accuracy")
        ),
        "epoch_seconds": round(m["epoch_seconds"]),
        "samples_per_s": round(m["samples_per_s"]),
        "wall_s": round(time.perf_counter() - start),
        "peak_rss_mb": peak_mb(),
        "run_id": run.run_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["baseline", "lstm", "all", "curve"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000])
    parser.add_argument("--embeddings", nargs="+", default=["lm", "random", "syllable"])
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    a = parser.parse_args()
    if a.what == "baseline":
        print(json.dumps(baseline()))
        return
    if a.what == "lstm":
        print(json.dumps(lstm(a.args[0], int(a.args[1]), a.sets)))
        return
    if a.what == "curve":
        jobs = [
            ["lstm", e, str(s), f"--set=train_rows={n}", *(f"--set={x}" for x in a.sets)]
            for n in a.sizes
            for e in a.embeddings
            for s in a.seeds
        ]
    else:
        jobs = [["baseline"]] + [
            ["lstm", e, str(s), *(f"--set={x}" for x in a.sets)]
            for e in ("random", "syllable", "jamo")
            for s in a.seeds
        ]
    rows = run_jobs(__file__, jobs)
    print(
        "| model | labelled reviews | test accuracy (mean ± sd) | runs | best epochs "
        "| s / epoch | peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    for name in dict.fromkeys((r["model"], r.get("train_rows")) for r in rows):
        group = [r for r in rows if (r["model"], r.get("train_rows")) == name]
        accs = [r["test_accuracy"] * 100 for r in group]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        best = ", ".join(f"{r.get('best_epoch', 0):.0f}/{r.get('epochs_run', '-')}" for r in group)
        print(
            f"| {name[0]} | {name[1] or '-':,} | {statistics.mean(accs):.2f} ± {sd:.2f} | "
            f"{len(group)} | {best} | {group[0].get('epoch_seconds', '-')} | "
            f"{max(r['peak_rss_mb'] for r in group):,} |"
        )


if __name__ == "__main__":
    main()
