"""Compare runs across pipeline runs and variants, from ``mlflow.search_runs``: key metrics per
stage and variant, filterable by profile, date and pipeline run; a Markdown or HTML report
with plots (each key metric over runs, learning curves side by side, and sentiment test
accuracy against the labelled reviews trained on), runs linked to their MLflow pages and the
champions marked; or JSON / CSV for scripts."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from korflow.core import plots, tracking
from korflow.core.registry import CHAMPION
from korflow.core.secrets import redact
from korflow.core.sources import is_url
from korflow.core.stages import CHAMPION_METRIC, SPEC

# Per stage: the tags that name a variant, and the metrics users compare.
STAGES = {name: (spec.variant_tags, spec.metrics) for name, spec in SPEC.items()}
# The learning curve a stage's report shows: of the metric its champion is chosen by.
CURVES = {stage: f"epoch_{metric}" for stage, metric in CHAMPION_METRIC.items()}
LOCAL_UI = "http://127.0.0.1:5000"  # where the README's `mlflow ui` serves a local store
TRAINING_VIEW = "workflowType=machine_learning"  # MLflow 3's UI: runs and the model registry
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


def champions() -> dict[str, list[str]]:
    """Run id -> the aliases its registered model holds (``champion-quick``, ``champion``)."""
    client = MlflowClient()
    held: dict[str, list[str]] = {}
    try:
        for model in client.search_registered_models(filter_string="name LIKE 'korflow-%'"):
            for alias, version in model.aliases.items():
                found = client.get_model_version(model.name, version)
                held.setdefault(found.tags.get("korflow.run_id") or found.run_id, []).append(alias)
    except MlflowException:  # no registry (a store without one): no marks
        return {}
    return held


def run_url(experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server's, else the README's `mlflow ui`.
    In MLflow 3's model-training view: its UI opens the GenAI view unless the link says so
    (the experiment's kind tag is not enough; seen in a browser, MLflow 3.17)."""
    uri = mlflow.get_tracking_uri()
    base = uri.rstrip("/") if is_url(uri) else LOCAL_UI
    return f"{redact(base)}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_VIEW}"


def tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One table per stage: a row per run (oldest first), its variant, profile and key metrics,
    the aliases it holds and, for a stage with a champion, how far its champion metric is from
    the champion's of its profile (and unit). Raw values: ``display`` formats them."""
    out = {}
    held = champions()
    for stage, (_, metrics) in STAGES.items():
        part = runs[runs["stage"] == stage] if not runs.empty else runs
        if part.empty:
            continue
        table = pd.DataFrame(
            {
                "run": part["run_id"],
                "experiment": part["experiment_id"],
                "started": part["start_time"].dt.strftime("%Y-%m-%d %H:%M"),
                "profile": part["tags.korflow.profile"],
                "pipeline": (
                    part["tags.korflow.pipeline_run_id"].fillna("").str[:8]
                    if "tags.korflow.pipeline_run_id" in part
                    else ""
                ),
                "variant": part["variant"],
                "champion": [", ".join(held.get(r, [])) for r in part["run_id"]],
            }
        )
        for metric in metrics:
            value = values_of(part, metric)
            if value is not None:
                table[metric] = value
        table["seconds"] = part["seconds"]
        chosen = CHAMPION_METRIC.get(stage)
        if chosen in table:
            table[f"{chosen} vs champion"] = _from_champion(table, part, chosen)
        out[stage] = table.reset_index(drop=True)
    return out


def values_of(part: pd.DataFrame, key: str) -> pd.Series | None:
    """``key`` per run (``tracking.metric_or_count``); None when no run has it."""
    metric, count = f"metrics.{key}", f"params.{key}"
    if metric not in part and count not in part:
        return None
    rows = part.reindex(columns=[metric, count])
    values = [
        tracking.metric_or_count({key: m}, {key: c}, key)
        for m, c in zip(rows[metric], rows[count], strict=True)
    ]
    return pd.Series(values, index=part.index, dtype=float)


def _from_champion(table: pd.DataFrame, part: pd.DataFrame, metric: str) -> pd.Series:
    """Each run's ``metric`` minus its champion's (the run holding ``champion-<profile>``
    among the runs of its profile and unit); NaN where no such champion is in the table."""
    unit = part.get("tags.korflow.unit", pd.Series("", index=part.index)).fillna("")
    keys = list(zip(table["profile"], unit, strict=True))
    best = {
        key: value
        for key, value, aliases in zip(keys, table[metric], table["champion"], strict=True)
        if f"{CHAMPION}-{key[0]}" in aliases.split(", ")
    }
    return pd.Series(
        [
            v - best[k] if k in best else float("nan")
            for k, v in zip(keys, table[metric], strict=True)
        ],
        index=table.index,
    )


def human(value) -> str:
    """A number as a person reads it: 2,512,120 not 2.51212e+06; 0.8771; blank for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def display(table: pd.DataFrame, link: str = "md") -> pd.DataFrame:
    """A table for people: numbers formatted, the run id short and (``link`` md or html)
    linked to its page; ``text`` for a terminal."""
    shown = table.drop(columns=["experiment"]).copy()
    for column in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = [human(v) for v in shown[column]]
    if link == "text":
        shown["run"] = table["run"].str[:8]
        return shown
    urls = [run_url(e, r) for e, r in zip(table["experiment"], table["run"], strict=True)]
    shown["run"] = [
        f"[{r[:8]}]({u})" if link == "md" else f'<a href="{html.escape(u)}">{r[:8]}</a>'
        for r, u in zip(table["run"], urls, strict=True)
    ]
    return shown


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
    runs: pd.DataFrame,
    folder: str | Path,
    fmt: str = "md",
    title: str = "korflow runs",
    parts: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """The tables (``parts``: ``tables(runs)`` when the caller has them already) and the plots
    in ``folder``; returns the report file: report.md or .html for people, report.json (stage
    -> rows) or runs.csv (a row a run, its stage in a column) for scripts, with raw numbers and
    full run ids."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = dict(parts) if parts is not None else tables(runs)
    curve = label_curve(runs)
    if fmt in ("json", "csv"):
        if not curve.empty:
            parts["sentiment by labelled reviews"] = curve
        if fmt == "json":
            path = folder / "report.json"
            rows = {
                k: json.loads(t.to_json(orient="records", double_precision=15))
                for k, t in parts.items()
            }
            path.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
        else:
            path = folder / "runs.csv"
            frames = [t.assign(stage=k) for k, t in parts.items() if k in STAGES]
            pd.concat(frames, ignore_index=True).to_csv(path, index=False)
        return path
    images = _plots(runs, folder)
    if not curve.empty:
        name = "sentiment_by_labelled_reviews.png"
        heading = "sentiment: test accuracy by labelled reviews"
        plots.label_curve_png(curve, folder / name, heading)
        images.append((heading, name))
    shown = {stage: display(t, fmt) for stage, t in parts.items()}
    if not curve.empty:
        shown["sentiment by labelled reviews"] = curve.map(human)
    if fmt == "html":
        body = [f"<h1>{html.escape(title)}</h1>"]
        for stage, table in shown.items():
            body += [f"<h2>{stage}</h2>", table.to_html(index=False, escape=False)]
        body += [f'<h2>{html.escape(h)}</h2><img src="{name}">' for h, name in images]
        path = folder / "report.html"
        path.write_text(
            '<html><head><meta charset="utf-8"></head><body>' + "\n".join(body) + "</body></html>",
            encoding="utf-8",
        )
        return path
    lines = [f"# {title}", ""]
    for stage, table in shown.items():
        lines += [f"## {stage}", "", table.to_markdown(index=False), ""]
    for heading, name in images:
        lines += [f"## {heading}", "", f"![{heading}]({name})", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _plots(runs: pd.DataFrame, folder: Path) -> list[tuple[str, str]]:
    """(heading, file) of each plot: a stage's key metrics over its runs (in order, one panel a
    metric), and the newest run of each variant's learning curve of the metric its champion is
    chosen by."""
    names = []
    for stage, (_, metrics) in STAGES.items():
        part = runs[runs["stage"] == stage] if not runs.empty else runs
        if part.empty or not SPEC[stage].plotted:
            continue
        shown = [m for m in metrics[:2] if f"metrics.{m}" in part]
        if not shown:
            continue
        name, heading = f"{stage}_over_runs.png", f"{stage}: key metrics over runs"
        plots.over_runs_png(
            [r[:8] for r in part["run_id"]],
            list(part["variant"]),
            {m: list(part[f"metrics.{m}"]) for m in shown},
            folder / name,
            heading,
        )
        names.append((heading, name))
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
        heading = f"{stage}: {metric.removeprefix('epoch_')} by epoch"
        plots.lines_png(curves, folder / name, heading, "epoch", integer_x=True)
        names.append((heading, name))
    return names
