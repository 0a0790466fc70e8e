"""Compare runs across pipeline runs and variants, from ``mlflow.search_runs``: key metrics per
stage and variant, filterable by profile, date and pipeline run; a Markdown or HTML report
with plots (each key metric over runs, learning curves side by side, and sentiment test
accuracy against the labelled reviews trained on)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from korflow.core import plots, tracking

# Per stage: the tags that name a variant, and the metrics users compare.
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pipeline": ((), ("duration_s",)),
    "corpus": ((), ("duration_s", "nsmc.tokens", "wiki.tokens")),
    "embed": (
        ("korflow.level", "korflow.unit"),
        (
            "ws353_spearman",
            "analogy_semantic_accuracy",
            "analogy_syntactic_accuracy",
            "train_seconds",
        ),
    ),
    "lm": (
        ("korflow.unit", "korflow.direction"),
        (
            "val_perplexity",
            "val_perplexity_wiki",
            "val_perplexity_nsmc",
            "baseline_ngram_perplexity",
            "train_units",
            "tokens_per_s",
        ),
    ),
    "sentiment": (
        ("korflow.embedding",),
        ("test_accuracy", "test_f1", "val_accuracy", "epoch_seconds"),
    ),
    "seq2seq": (
        ("korflow.attention",),
        (
            "test_bleu",
            "test_chrf",
            "test_perplexity",
            "test_bleu_greedy",
            "test_chrf_greedy",
            "baseline_retrieval_chrf",
            "epoch_seconds",
        ),
    ),
}
CURVES = {
    "lm": "epoch_val_perplexity",
    "sentiment": "epoch_val_accuracy",
    "seq2seq": "epoch_val_loss",
}
# Stage names runs were tagged with before: the FastText stage's runs were tagged ``fasttext``
# until the tag took the command's name, ``embed``; saved filters and old runs still work.
OLD_STAGE_NAMES = {"fasttext": "embed"}


def stage_of(tags: Mapping[str, str | None]) -> str | None:
    """A run's stage, by today's name."""
    stage = tags.get("korflow.stage")
    return OLD_STAGE_NAMES.get(stage, stage)


def search(
    profile: str | None = None,
    since: datetime | None = None,
    pipeline_run_id: str | None = None,
    stages: tuple[str, ...] = tuple(STAGES),
) -> pd.DataFrame:
    """Finished korflow runs, oldest first, with ``stage``, ``variant`` and ``seconds`` added."""
    tracking.setup()
    filters = ["attributes.status = 'FINISHED'"]
    if profile:
        filters.append(f"tags.`korflow.profile` = '{profile}'")
    if since:
        filters.append(f"attributes.start_time >= {int(since.timestamp() * 1000)}")
    if pipeline_run_id:
        filters.append(f"tags.`korflow.pipeline_run_id` = '{pipeline_run_id}'")
    runs = mlflow.search_runs(
        experiment_names=[tracking.EXPERIMENT],
        filter_string=" and ".join(filters),
        order_by=["attributes.start_time ASC"],
        max_results=5000,
    )
    if runs.empty:
        return runs
    runs["stage"] = runs["tags.korflow.stage"].replace(OLD_STAGE_NAMES)
    runs = runs[runs["stage"].isin([OLD_STAGE_NAMES.get(s, s) for s in stages])].copy()
    runs["variant"] = [
        variant(row["stage"], {k.removeprefix("tags."): v for k, v in row.items()})
        for _, row in runs.iterrows()
    ]
    runs["seconds"] = (runs["end_time"] - runs["start_time"]).dt.total_seconds()
    return runs


def variant(stage: str, tags: Mapping[str, str | None]) -> str:
    """The variant a run is of, from its tags: "jamo/morpheme", "additive", or "-"."""
    names, _ = STAGES.get(stage, ((), ()))
    return "/".join(tags.get(t) if isinstance(tags.get(t), str) else "-" for t in names) or "-"


def tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One table per stage: a row per run, its variant, profile and key metrics."""
    out = {}
    for stage, (_, metrics) in STAGES.items():
        part = runs[runs["stage"] == stage] if not runs.empty else runs
        if part.empty:
            continue
        table = pd.DataFrame(
            {
                "run": part["run_id"].str[:8],
                "started": part["start_time"].dt.strftime("%Y-%m-%d %H:%M"),
                "profile": part["tags.korflow.profile"],
                "pipeline": (
                    part["tags.korflow.pipeline_run_id"].fillna("").str[:8]
                    if "tags.korflow.pipeline_run_id" in part
                    else ""
                ),
                "variant": part["variant"],
            }
        )
        for metric in metrics:
            column = f"metrics.{metric}"
            if column in part:
                table[metric] = part[column].round(4)
        table["seconds"] = part["seconds"].round(1)
        out[stage] = table.reset_index(drop=True)
    return out


def label_curve(runs: pd.DataFrame) -> pd.DataFrame:
    """Sentiment test accuracy against the labelled reviews trained on (``train_rows``), per
    embedding and profile (one test set each): mean, sd and count over the runs (seeds) of
    each size. Empty unless the runs cover two sizes or more."""
    columns = [
        *("variant", "profile", "train_rows"),
        *("test_accuracy_mean", "test_accuracy_sd", "runs"),
    ]
    wanted = ("metrics.train_rows", "metrics.test_accuracy")
    part = runs[runs["stage"] == "sentiment"] if not runs.empty else runs
    if part.empty or not all(c in part for c in wanted):
        return pd.DataFrame(columns=columns)
    part = part.dropna(subset=list(wanted))
    if part["metrics.train_rows"].nunique() < 2:
        return pd.DataFrame(columns=columns)
    keys = ["variant", "tags.korflow.profile", "metrics.train_rows"]
    grouped = part.groupby(keys)["metrics.test_accuracy"]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table.columns = columns
    table["train_rows"] = table["train_rows"].astype(int)
    return table.round(4)


def write_report(
    runs: pd.DataFrame, folder: str | Path, fmt: str = "md", title: str = "korflow runs"
) -> Path:
    """The tables and the plots in ``folder``; returns the report file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = _plots(runs, folder)
    parts = tables(runs)
    curve = label_curve(runs)
    if not curve.empty:
        parts["sentiment by labelled reviews"] = curve
        name = "sentiment_by_labelled_reviews.png"
        plots.label_curve_png(curve, folder / name, "sentiment: test accuracy by labelled reviews")
        images.append(name)
    if fmt == "html":
        body = [f"<h1>{html.escape(title)}</h1>"]
        for stage, table in parts.items():
            body += [f"<h2>{stage}</h2>", table.to_html(index=False)]
        body += [f'<h2>{html.escape(name)}</h2><img src="{name}">' for name in images]
        path = folder / "report.html"
        path.write_text(
            '<html><head><meta charset="utf-8"></head><body>' + "\n".join(body) + "</body></html>",
            encoding="utf-8",
        )
        return path
    lines = [f"# {title}", ""]
    for stage, table in parts.items():
        lines += [f"## {stage}", "", table.to_markdown(index=False), ""]
    lines += [f"![{name}]({name})" for name in images]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _plots(runs: pd.DataFrame, folder: Path) -> list[str]:
    names = []
    for stage, (_, metrics) in STAGES.items():
        part = runs[runs["stage"] == stage] if not runs.empty else runs
        if len(part) < 1 or stage in ("pipeline", "corpus"):
            continue
        series = {}
        for variant, group in part.groupby("variant"):
            for metric in metrics[:2]:
                if f"metrics.{metric}" in group:
                    points = zip(group["start_time"], group[f"metrics.{metric}"], strict=True)
                    series[f"{variant} {metric}"] = list(points)
        name = f"{stage}_over_runs.png"
        plots.lines_png(series, folder / name, f"{stage}: key metrics over runs", "run start")
        names.append(name)
    client = MlflowClient()
    for stage, metric in CURVES.items():
        part = runs[runs["stage"] == stage] if not runs.empty else runs
        if part.empty:
            continue
        latest = part.groupby("variant").tail(1)  # the newest run of each variant
        curves = {
            row["variant"]: [
                (m.step, m.value) for m in client.get_metric_history(row["run_id"], metric)
            ]
            for _, row in latest.iterrows()
        }
        name = f"{stage}_learning_curves.png"
        plots.lines_png(curves, folder / name, f"{stage}: {metric}", "epoch")
        names.append(name)
    return names
