"""The stage commands, one a stage and the pipeline, each declared with all its options: those
every stage takes (--profile, --data-mirror, --task-runner, --set, --refresh, --show-config)
around its own, which override the settings --set gives where they are given."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from app.console import prepare
from app.options import Mirror, Profile, Refresh, Runner, Sets, ShowConfig, names
from app.running import overrides, run_pipeline, run_stage, say
from korean.morphemes import BACKENDS
from korflow.core.names import ATTENTIONS, EMBED_UNITS, EMBEDDINGS, LEVELS, LM_UNITS, STAGES

commands = typer.Typer()


def _stage(stage, profile, data_mirror, task_runner, set_, refresh, show_config, flags) -> None:
    prepare(refresh)
    given = overrides(stage, set_, flags)
    say(run_stage(stage, profile, data_mirror, task_runner, given, show_config))


@commands.command()
def corpus(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    wiki_source: Annotated[
        str | None,
        typer.Option(help="Wikipedia input: a *.xml(.bz2) dump, a WikiExtractor folder, or a URL."),
    ] = None,
    tokenizer: Annotated[
        Literal[BACKENDS] | None,
        typer.Option("--tokenizer", "--backend", help="KoNLPy backend; default mecab."),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail on malformed input rows instead of skipping.")
    ] = False,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """Ingest NSMC and Korean Wikipedia, clean, tokenize into morphemes; track it in MLflow."""
    flags = {
        "wiki_source": wiki_source,
        "tokenizer": {"backend": tokenizer} if tokenizer else None,
        "strict": strict or None,
    }
    _stage("corpus", profile, data_mirror, task_runner, set_, refresh, show_config, flags)


@commands.command()
def embed(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    level: Annotated[
        list[str] | None,
        typer.Option(help="syllable, jamo or all (one model each); default all.", **names(LEVELS)),
    ] = None,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="morpheme (default), eojeol or all tokens.", **names(EMBED_UNITS)),
    ] = None,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """Train syllable- and jamo-level FastText on NSMC train + Wikipedia; evaluate; track."""
    flags = {"levels": level, "units": unit}
    _stage("embed", profile, data_mirror, task_runner, set_, refresh, show_config, flags)


@commands.command()
def lm(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    unit: Annotated[
        list[str] | None,
        typer.Option(
            help="morpheme, syllable, or all (one model per direction); default all.",
            **names(LM_UNITS),
        ),
    ] = None,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """Train forward and backward LSTM language models on NSMC train + Wikipedia; score them
    against a Kneser-Ney n-gram model; register the forward ones in MLflow."""
    flags = {"units": unit}
    _stage("lm", profile, data_mirror, task_runner, set_, refresh, show_config, flags)


@commands.command()
def sentiment(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    embedding: Annotated[
        list[str] | None,
        typer.Option(
            help="random, syllable, jamo, lm (the biLM of `korflow lm`), or all (one run "
            "each); default all.",
            **names(EMBEDDINGS),
        ),
    ] = None,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """Train the LSTM sentiment classifier on NSMC; test; register it in MLflow."""
    flags = {"embeddings": embedding}
    _stage("sentiment", profile, data_mirror, task_runner, set_, refresh, show_config, flags)


@commands.command()
def seq2seq(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    attention: Annotated[
        list[str] | None,
        typer.Option(
            help="none, dot, general, additive, refine (retrieve and refine: reads the answers "
            "of the nearest training questions and can copy from them), or all (one run each).",
            **names(ATTENTIONS),
        ),
    ] = None,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """Train the LSTM seq2seq chatbot on the chatbot corpus; test; register it in MLflow."""
    flags = {"attentions": attention}
    _stage("seq2seq", profile, data_mirror, task_runner, set_, refresh, show_config, flags)


@commands.command()
def pipeline(
    profile: Profile = "quick",
    data_mirror: Mirror = None,
    task_runner: Runner = None,
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stages", "--stage", help="The stages to run; default all.", **names(STAGES)
        ),
    ] = None,
    set_: Sets = None,
    refresh: Refresh = False,
    show_config: ShowConfig = False,
) -> None:
    """The whole DAG: corpus -> FastText -> sentiment, seq2seq beside it, then a report."""
    prepare(refresh)
    # The stages' tasks go to the runner; the stages themselves run side by side here.
    given = overrides(None, set_, {"stages": stages, "task_runner": task_runner})
    result = run_pipeline(profile, data_mirror, given, show_config)
    say(result, "Prefect UI: `prefect server start`, or `korflow serve`")
