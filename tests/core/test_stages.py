"""The stage registry (``korflow.core.stages``): every stage declared there has its flow,
settings, command, tags and compare entries, and the tables derived from it are the ones the
rest of korflow read before it existed (so runs, reports and registered models keep their
names)."""

from __future__ import annotations

import pytest
from prefect import Flow

from korflow.core import compare, imports, names, registry, tracking
from korflow.core.config.resolve import stage_config
from korflow.core.stages import CHAMPION_METRIC, PIPELINE, SPEC, SPECS, STAGES, load

ALL = [PIPELINE, *SPECS]


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_every_stage_has_its_flow_settings_command_and_compare_entry(spec):
    import typer

    from app.cli import app

    flow = load(spec.flow)
    assert isinstance(flow, Flow) and flow.name == f"korflow-{spec.name}"
    assert spec.flow.startswith("flows.") and spec.settings.startswith("korflow.core.config.")
    for profile in names.PROFILES:
        settings = stage_config(spec.name, profile)
        assert isinstance(settings, load(spec.settings)) and settings.profile == profile
    assert spec.name in typer.main.get_command(app).commands
    assert compare.STAGES[spec.name] == (spec.variant_tags, spec.metrics)
    assert "{" not in tracking.describe(spec.name, "quick", {})  # every {tag} filled, if blank
    # The pipeline submits the stages in SPECS' order: what a stage reads comes before it.
    assert set(spec.upstream) <= set(STAGES[: STAGES.index(spec.name)] if spec in SPECS else ())


@pytest.mark.parametrize("spec", [s for s in SPECS if s.champion_metric], ids=lambda s: s.name)
def test_a_stage_with_a_champion_has_its_variant_tag_and_models(spec):
    assert spec.variant_tag and spec.models
    assert compare.CURVES[spec.name] == f"epoch_{spec.champion_metric}"
    assert spec.champion_metric.startswith("val_")  # chosen on validation, never on test


def test_the_derived_tables_keep_the_names_runs_and_models_were_logged_with():
    assert STAGES == names.STAGES == ("corpus", "embed", "lm", "sentiment", "seq2seq")
    assert list(compare.STAGES) == ["pipeline", *STAGES]
    assert (
        CHAMPION_METRIC
        == registry.CHAMPION_METRIC
        == {
            "lm": "val_perplexity",
            "sentiment": "val_accuracy",
            "seq2seq": "val_chrf",
        }
    )
    variant_tags = {s.name: s.variant_tag for s in SPECS if s.variant_tag}
    assert variant_tags == {
        "lm": "korflow.lm",
        "sentiment": "korflow.embedding",
        "seq2seq": "korflow.attention",
    }
    assert {s.name: s.variants for s in SPECS if s.variants} == {
        "sentiment": "embeddings",
        "seq2seq": "attentions",
    }
    assert list(registry.DESCRIPTIONS) == [
        "korflow-lm",
        "korflow-lm-morpheme",
        "korflow-sentiment",
        "korflow-seq2seq",
    ]
    assert set(tracking.DESCRIPTIONS) == {*SPEC, "compare"}


def test_the_flows_register_the_models_their_spec_declares():
    from flows import lm, sentiment, seq2seq

    assert sentiment.MODEL_NAME == "korflow-sentiment" and seq2seq.MODEL_NAME == "korflow-seq2seq"
    assert lm.MODEL_NAMES == {"syllable": "korflow-lm", "morpheme": "korflow-lm-morpheme"}


def test_no_task_runs_the_registry_so_editing_it_keeps_every_cache():
    # A task's cache key hashes the project files it runs: the registry's text (a description,
    # a compare column) must not re-run trainings.
    tasks = sorted(p.stem for p in (imports.ROOT / "tasks").glob("*.py") if p.stem != "__init__")
    assert "training" in tasks
    for task in tasks:
        files = {p.name for p in imports.code_files(f"tasks.{task}")}
        assert not files & {"stages.py", "names.py", "resolve.py", "tracking.py"}, task


def test_counts_read_from_params_now_and_from_metrics_in_older_runs():
    # Since 2026-12-02 counts (rows, tokens) are params; older runs logged them as metrics.
    assert tracking.metric_or_count({"nsmc.tokens": 7.0}, {}, "nsmc.tokens") == 7.0
    assert tracking.metric_or_count({}, {"nsmc.tokens": "9"}, "nsmc.tokens") == 9.0
    assert tracking.metric_or_count({}, {"nsmc.tokens": "many"}, "nsmc.tokens") is None
    assert tracking.metric_or_count({}, {}, "nsmc.tokens") is None
    import pandas as pd

    # compare's table: one column, old and new runs alike.
    runs = pd.DataFrame(
        {"metrics.nsmc.tokens": [5.0, float("nan")], "params.nsmc.tokens": [None, "8"]},
        index=[3, 4],
    )
    column = compare.values_of(runs, "nsmc.tokens")
    assert column.tolist() == [5.0, 8.0] and column.index.tolist() == [3, 4]
    assert compare.values_of(runs, "wiki.tokens") is None
