"""The ``korflow`` command line."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape

from korean.morphemes import BACKENDS
from korflow.core import crash, settings
from korflow.core.errors import one_line
from korflow.core.names import (
    ATTENTIONS,
    EMBED_UNITS,
    EMBEDDINGS,
    LEVELS,
    LM_UNITS,
    PROFILES,
    STAGES,
)
from korflow.core.secrets import redact

app = typer.Typer(
    help="Korean NLP workflow: corpus -> FastText -> LSTMs, on Prefect and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True)

Profile = Annotated[Literal[PROFILES], typer.Option("--profile", "-p", help="Named parameter set.")]
# What --model takes, under the names MLflow users type too (-m, --model-uri).
MODEL_FLAGS = ("--model", "-m", "--model-uri")


def _model_help(registered: str, more: str = "") -> str:
    return (
        f"A pyfunc model URI (runs:/ID/model, models:/NAME/VERSION, ...); default: "
        f"models:/{registered}@champion{more} (the quick profile's champion while no full "
        "model exists)."
    )


def _names(allowed: tuple[str, ...]) -> dict:
    """A list option's parsing: repeatable and comma lists alike (``--embedding random,lm`` or
    ``--embedding random --embedding lm``), ``all`` for every name; a name outside
    ``allowed`` is a usage error (exit 2) that lists them. Completes the names in a shell."""

    def parse(values: list[str] | None) -> list[str] | None:
        names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
        if not names:
            return None
        if "all" in names:
            return list(allowed)
        if bad := [n for n in names if n not in allowed]:
            raise typer.BadParameter(
                f"{', '.join(map(repr, bad))}: choose from {', '.join(allowed)} or all"
            )
        return list(dict.fromkeys(names))

    def complete(incomplete: str) -> list[str]:
        return [n for n in (*allowed, "all") if n.startswith(incomplete.split(",")[-1])]

    return {"callback": parse, "autocompletion": complete}


Mirror = Annotated[
    Path | None,
    typer.Option(
        "--data-mirror",
        envvar="KORFLOW_DATA_MIRROR",
        help="Local folder with the upstream files (nsmc/, kowiki/, eval/, chatbot/); "
        "default: download from upstream.",
    ),
]
Runner = Annotated[
    str | None,
    typer.Option(
        "--task-runner",
        envvar="KORFLOW_TASK_RUNNER",
        help="thread (default), dask (local cluster), or a Dask scheduler address tcp://HOST:PORT.",
    ),
]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a config value, e.g. --set train.epochs=5 (repeatable).",
    ),
]
Refresh = Annotated[
    bool, typer.Option("--refresh", help="Ignore cached task results and recompute.")
]
ShowConfig = Annotated[
    bool,
    typer.Option("--show-config", help="Print the resolved settings (JSON); run nothing."),
]


def _prepare(refresh: bool) -> None:
    """Settings must be in the environment before Prefect and MLflow are imported."""
    if refresh:
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    settings.configure()
    crash.clean_up_after_killed_runs(console.print)  # imports Prefect: settings come first


def _debug() -> bool:
    return os.environ.get("KORFLOW_DEBUG", "0") not in ("", "0")


def _error_line(exc: Exception | str) -> None:
    """The failure's one line, last on stderr (Prefect's server goodbye is silenced)."""
    message = exc if isinstance(exc, str) else one_line(exc)
    logging.getLogger("prefect").setLevel(logging.WARNING)
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _fail(exc: Exception | str) -> None:
    if _debug() and isinstance(exc, Exception):
        raise exc
    _error_line(exc)
    raise typer.Exit(1)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        print(f"korflow {version('korflow')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version; exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="KORFLOW_DEBUG", help="Show the traceback of a failure, not one line."
        ),
    ] = False,
) -> None:
    if debug:
        os.environ["KORFLOW_DEBUG"] = "1"


class _NoTraceback(logging.Filter):
    """Prefect's own log lines of a failure, without their tracebacks (the failure's one line
    closes the output); ``--debug`` keeps them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


class _Redacted(logging.Filter):
    """A log line with its URL passwords and secret query values masked (a failed download's
    message holds its URL), before the console or Prefect's API sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if (masked := redact(message)) != message:
            record.msg, record.args = masked, ()
        return True


def _quiet_tracebacks() -> None:
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_Redacted())
            if not _debug():
                handler.addFilter(_NoTraceback())


def main() -> None:
    """The console command: a failure ends with one line (what, where, how to fix) and exit
    code 1; ``--debug`` or KORFLOW_DEBUG=1 shows the traceback instead."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the edge: every failure becomes one line
        if _debug():
            raise
        _error_line(exc)
        sys.exit(1)


def _run_flow(
    stage: str,
    profile: str,
    data_mirror: Path | None,
    task_runner: str | None,
    overrides: dict,
    show_config: bool = False,
):
    """Resolve the stage's settings once (a pipeline's: every stage's) and check the mirror,
    before any work; then run its flow on them, on the chosen task runner."""
    from korflow.core import profiles

    try:
        config = profiles.stage_config(stage, profile, overrides)
        mirror = settings.data_mirror(data_mirror)
    except (profiles.ConfigError, FileNotFoundError) as exc:
        _fail(exc)
    if show_config:
        print(json.dumps(config.model_dump(mode="json"), indent=2, ensure_ascii=False))
        raise typer.Exit(0)
    import flows.pipeline
    from flows.runners import task_runner as make_runner
    from korflow.core import tracking

    try:
        tracking.check_store()
    except tracking.TrackingUnavailable as exc:
        _fail(exc)
    flow = flows.pipeline.flow_of(stage)
    _start_prefect_api()
    crash.handle_sigterm()  # now that Prefect is imported: its SIGTERM bridge too
    _quiet_tracebacks()
    if stage != "pipeline":  # the pipeline passes the runner on to its stages itself
        flow = flow.with_options(task_runner=make_runner(task_runner))
    result = flow(profile=profile, config=config, data_mirror=str(mirror) if mirror else None)
    _let_prefect_record(getattr(result, "flow_run_id", None))
    return result


def _start_prefect_api() -> None:
    """Start the temporary Prefect API now, one korflow at a time per Prefect home: two first
    runs together would both migrate one new database, and one would print its tracebacks."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    from korflow.core.datasets import file_lock

    if PREFECT_API_URL.value():  # a real server: nothing to start
        return
    lock = file_lock(Path(PREFECT_HOME.value()) / "korflow-start.lock")
    with lock, get_client(sync_client=True) as client:
        client.api_healthcheck()


def _let_prefect_record(flow_run_id: str | None, limit: float = 15.0) -> None:
    """Wait (``limit`` s at most) until the temporary Prefect API has recorded as finished the
    task runs of this flow run and its subflows: stopping it while it still records (behind
    another korflow's writes to the same database) would lose their final states and print
    its recorder's tracebacks. A real server records on after this command ends."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not flow_run_id:
        return
    deadline = time.monotonic() + limit
    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        runs, level = [UUID(flow_run_id)], [UUID(flow_run_id)]
        while level:  # the subflows, level by level
            children = FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=level))
            level = [r.id for r in client.read_flow_runs(flow_run_filter=children)]
            runs += level
        unfinished = TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=runs),
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING])),
        )
        while client.read_task_runs(task_run_filter=unfinished, limit=1):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)


def _stage(
    stage: str,
    profile: str,
    data_mirror: Path | None,
    task_runner: str | None,
    pairs: list[str] | None,
    refresh: bool,
    show_config: bool,
    flags: dict,
) -> None:
    """What every stage command does: settings from --set, with the command's own flags on
    top where given; the flow; its summary on stderr and its MLflow run ids on stdout."""
    _prepare(refresh)
    from korflow.core.profiles import ConfigError, merge, parse_overrides

    try:
        overrides = parse_overrides(pairs or [], None if stage == "pipeline" else stage)
    except ConfigError as exc:
        _fail(exc)
    if stage == "pipeline":  # the stages' tasks go there; the stages run side by side here
        flags, task_runner = {**flags, "task_runner": task_runner}, None
    overrides = merge(overrides, {key: value for key, value in flags.items() if value is not None})
    result = _run_flow(stage, profile, data_mirror, task_runner, overrides, show_config)
    console.print(f"\n[bold green]{escape(result.summary())}[/]", soft_wrap=True)
    for line in result.details():
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"tracking URI {result.tracking_uri}", markup=False)
    if result.run_ids:
        from korflow.core import compare, tracking
        from korflow.core.sources import is_url

        where = compare.run_url(tracking.setup(), result.run_ids[0])
        local = not is_url(settings.tracking_uri())
        serve = f" (after `mlflow ui --backend-store-uri {redact(settings.tracking_uri())}`)"
        console.print(f"MLflow UI: {where}{serve if local else ''}", markup=False, soft_wrap=True)
    if stage == "pipeline":
        console.print("Prefect UI: `prefect server start`, or `korflow serve`", markup=False)
    for run_id in result.run_ids:  # stdout: just the MLflow run ids, one a line, for scripts
        print(run_id)


def _option(name: str, annotation, default) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


# The options of every stage command, before and after its own.
_FIRST = (
    _option("profile", Profile, "quick"),
    _option("data_mirror", Mirror, None),
    _option("task_runner", Runner, None),
)
_LAST = (
    _option("set_", Sets, None),
    _option("refresh", Refresh, False),
    _option("show_config", ShowConfig, False),
)


def stage_command(stage: str):
    """Register ``flags`` as the command of ``stage``: its parameters are the command's own
    options, around which every stage command takes the same ones (--profile, --data-mirror,
    --task-runner, --set, --refresh, --show-config); it returns the settings they override."""

    def register(flags):
        def command(profile, data_mirror, task_runner, set_, refresh, show_config, **own):
            chosen = flags(**own)
            _stage(stage, profile, data_mirror, task_runner, set_, refresh, show_config, chosen)

        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(flags, eval_str=True).parameters.values()
        ]
        command.__signature__ = inspect.Signature([*_FIRST, *own, *_LAST])
        command.__doc__ = flags.__doc__
        app.command(stage)(command)
        return flags

    return register


@stage_command("corpus")
def corpus(
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
) -> dict:
    """Ingest NSMC and Korean Wikipedia, clean, tokenize into morphemes; track it in MLflow."""
    return {
        "wiki_source": wiki_source,
        "tokenizer": {"backend": tokenizer} if tokenizer else None,
        "strict": strict or None,
    }


@stage_command("embed")
def embed(
    level: Annotated[
        list[str] | None,
        typer.Option(help="syllable, jamo or all (one model each); default all.", **_names(LEVELS)),
    ] = None,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="morpheme (default), eojeol or all tokens.", **_names(EMBED_UNITS)),
    ] = None,
) -> dict:
    """Train syllable- and jamo-level FastText on NSMC train + Wikipedia; evaluate; track."""
    return {"levels": level, "units": unit}


@stage_command("lm")
def lm(
    unit: Annotated[
        list[str] | None,
        typer.Option(
            help="morpheme, syllable, or all (one model per direction); default all.",
            **_names(LM_UNITS),
        ),
    ] = None,
) -> dict:
    """Train forward and backward LSTM language models on NSMC train + Wikipedia; score them
    against a Kneser-Ney n-gram model; register the forward ones in MLflow."""
    return {"units": unit}


@stage_command("sentiment")
def sentiment(
    embedding: Annotated[
        list[str] | None,
        typer.Option(
            help="random, syllable, jamo, lm (the biLM of `korflow lm`), or all (one run "
            "each); default all.",
            **_names(EMBEDDINGS),
        ),
    ] = None,
) -> dict:
    """Train the LSTM sentiment classifier on NSMC; test; register it in MLflow."""
    return {"embeddings": embedding}


@stage_command("seq2seq")
def seq2seq(
    attention: Annotated[
        list[str] | None,
        typer.Option(
            help="none, dot, general, additive, refine (retrieve and refine: reads the answers "
            "of the nearest training questions and can copy from them), or all (one run each).",
            **_names(ATTENTIONS),
        ),
    ] = None,
) -> dict:
    """Train the LSTM seq2seq chatbot on the chatbot corpus; test; register it in MLflow."""
    return {"attentions": attention}


@stage_command("pipeline")
def pipeline(
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stages", "--stage", help="The stages to run; default all.", **_names(STAGES)
        ),
    ] = None,
) -> dict:
    """The whole DAG: corpus -> FastText -> sentiment, seq2seq beside it, then a report."""
    return {"stages": stages}


def _load_pyfunc(uri: str | None, trainer: str, registered: str):
    """Load a pyfunc model: ``uri``, else the registered model's champion (the quick
    profile's while no full-profile model exists), and say on stderr which one it is."""
    _prepare(False)
    import mlflow

    from korflow.core import registry, tracking

    tracking.setup()
    accept_old_model_names()
    uri = registry.resolve(uri) if uri else registry.serving_uri(registered)
    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MLflow raises several types for a missing model or alias
        _fail(f"cannot load {uri}: {exc} (train one with `{trainer}`)")
    try:
        described = _describe_model(uri)
    except Exception:  # noqa: BLE001 - the model loaded; its description is a courtesy
        described = uri
    console.print(f"[dim]model: {described}[/]", soft_wrap=True)  # stderr: stdout is for answers
    return loaded


def accept_old_model_names() -> None:
    """Models registered before the layers were split name their PythonModel by the predictor
    modules' old names (``korflow.chat:ChatPyfunc``); in this process, which has imported
    korflow already, those names must find today's modules, not the model's own copy."""
    from korflow.serving import chat_predictor, sentiment_predictor

    sys.modules.setdefault("korflow.chat", chat_predictor)
    sys.modules.setdefault("korflow.sentiment", sentiment_predictor)


def _describe_model(uri: str) -> str:
    """``models:/NAME@ALIAS`` -> which version and run it is, with its variant and metric."""
    import mlflow

    if not uri.startswith("models:/") or "@" not in uri:
        return uri
    name, alias = uri.removeprefix("models:/").split("@", 1)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(name, alias)
    run = client.get_run(version.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    variant = (
        tags.get("korflow.attention") or tags.get("korflow.embedding") or tags.get("korflow.lm")
    ) or "-"
    metric = next((m for m in ("val_chrf", "val_perplexity") if m in metrics), "val_accuracy")
    score = metrics.get(metric, float("nan"))
    return (
        f"{uri} = version {version.version} (run {version.run_id}, {variant}, "
        f"{tags.get('korflow.profile', '-')} profile, {metric} {score:.4g})"
    )


@app.command()
def compare(
    profile: Annotated[
        Literal[PROFILES] | None, typer.Option("--profile", "-p", help="Only runs of this profile.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs started on or after this date (YYYY-MM-DD).")
    ] = None,
    pipeline_run: Annotated[
        str | None, typer.Option("--pipeline", help="Only the runs of this pipeline run.")
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage", "--stages", help="Only these stages.", **_names(("pipeline", *STAGES))
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder.")] = None,
    fmt: Annotated[
        Literal["md", "html", "json", "csv"],
        typer.Option("--format", help="md or html for people; json or csv for scripts."),
    ] = "md",
) -> None:
    """Key metrics across runs and variants; writes a report with plots and logs it to MLflow."""
    _prepare(False)
    from datetime import datetime

    import mlflow

    from korflow.core import compare as cmp
    from korflow.core import tracking

    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        _fail(f"--since {since!r} is not a date (YYYY-MM-DD)")
    runs = cmp.search(profile, start, pipeline_run, tuple(stage) if stage else tuple(cmp.STAGES))
    if runs.empty:
        _fail("no finished korflow runs match; run a stage or `korflow pipeline` first")
    parts = cmp.tables(runs)  # one read of the registry for the console and the report
    for name, table in parts.items():
        console.print(f"\n[bold]{name}[/]")
        shown = cmp.display(table, "text").to_string(index=False)
        console.print(shown, markup=False, soft_wrap=True)
    folder = out or settings.home() / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")
    report = cmp.write_report(runs, folder, fmt, parts=parts)
    filters = {"profile": profile or "any", "since": since or "any", "pipeline": pipeline_run}
    with tracking.stage_run(
        "compare", profile or "any", filters, experiment=tracking.REPORTS
    ) as run:
        mlflow.log_artifacts(str(folder), "report")
    console.print(f"\nreport {report}; logged to MLflow run [bold]{run.info.run_id}[/]")
    print(report)


@app.command()
def reproduce(
    run_id: Annotated[str, typer.Argument(help="An MLflow run id of a stage or pipeline run.")],
    data_mirror: Mirror = None,
) -> None:
    """Re-run a past run from its logged configuration; print its metrics beside the original's
    (exit status 1 when a non-timing metric differs)."""
    _prepare(True)  # recompute every task: a cache hit would prove nothing
    from korflow.app.reproduce import reproduce as rerun

    crash.handle_sigterm()  # now that Prefect is imported: its SIGTERM bridge too

    try:
        record, rows = rerun(run_id, str(data_mirror) if data_mirror else None)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    console.print(f"\nre-ran {record['stage']} (profile {record['profile']}) of run {run_id}")
    if record["code_changed"]:
        then, now = (c[:12] for c in record["code_changed"])
        exactly = "" if record["logged_dirty"] else f"; `git checkout {then}` repeats it exactly"
        console.print(
            f"[yellow]run {run_id} was logged by commit {then}, the code is now {now}: a metric "
            f"can differ where the code changed since{exactly}[/]"
        )
    if record["logged_dirty"]:
        console.print(
            f"[yellow]run {run_id} was logged with uncommitted changes: git does not hold the "
            "code that logged it, so a metric can differ where those changes mattered[/]"
        )
    print("stage\tvariant\tmetric\toriginal\treproduced\tmatch")
    for row in rows:
        again = "-" if row.reproduced is None else f"{row.reproduced:.6g}"
        verdict = "yes" if row.matches else ("not exact" if row.unrepeatable else "NO")
        print(f"{row.stage}\t{row.variant}\t{row.metric}\t{row.original:.6g}\t{again}\t{verdict}")
    exact = [r for r in rows if not r.unrepeatable]
    for (stage, variant), why in {(r.stage, r.variant): r.unrepeatable for r in rows}.items():
        if why:
            console.print(f"[yellow]{stage} {variant}: not compared exactly: {why}[/]")
    differing = [r for r in exact if not r.matches]
    if differing:
        console.print(f"[bold red]{len(differing)} of {len(exact)} exact metrics differ[/]")
        raise typer.Exit(1)
    console.print(f"[bold green]all {len(exact)} exact metrics match[/] (timings left out)")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port of the local Prefect server.")] = 4200,
    deployment: Annotated[
        list[str] | None, typer.Option(help="Serve only these deployments (repeatable).")
    ] = None,
) -> None:
    """Serve prefect.yaml's schedules from this process (starts and stops a local Prefect
    server itself; Ctrl-C stops both)."""
    _prepare(False)
    from korflow.app import serve as serving

    with serving.local_server(port) as api_url:
        os.environ["PREFECT_API_URL"] = api_url  # before Prefect reads its settings
        from prefect import serve as prefect_serve

        try:
            deployments = serving.build(names=deployment)
        except ValueError as exc:
            _fail(exc)
        from korflow.core.gpu import GPU_LIMIT, ensure_limit

        if ensure_limit(api_url):  # GPU trainings of the served runs then take turns
            console.print(f"created the global concurrency limit {GPU_LIMIT} (1 slot)")
        console.print(f"Prefect server {api_url.removesuffix('/api')} (UI); serving:")
        for d in deployments:
            console.print(f"  {d.name}: {[s.schedule for s in d.schedules]}", markup=False)
        prefect_serve(*deployments)


@app.command()
def chat(
    once: Annotated[
        str | None, typer.Option("--once", help="Answer this one question and exit.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=_model_help("korflow-seq2seq"),
        ),
    ] = None,
) -> None:
    """Talk to the chatbot: an interactive loop (empty line or Ctrl-D ends it), or --once."""
    loaded = _load_pyfunc(model, "korflow seq2seq", "korflow-seq2seq")
    import pandas as pd

    def answer(question: str) -> str:
        return loaded.predict(pd.DataFrame({"question": [question]}))["answer"][0]

    if once is not None:
        print(answer(once))
        return
    console.print("[dim]Ask in Korean; an empty line ends the chat.[/]")
    while True:
        try:
            question = input("> " if sys.stdin.isatty() else "")  # piped: answers only
        except EOFError:
            break
        if not question.strip():
            break
        print(answer(question))


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="The start of a Korean text, e.g. '이 영화는'.")],
    n: Annotated[int, typer.Option("--n", min=1, max=100, help="How many continuations.")] = 1,
    temperature: Annotated[
        float, typer.Option(min=0.01, help="Below 1: safer words; above 1: more varied.")
    ] = 0.8,
    top_p: Annotated[
        float,
        typer.Option(
            "--top-p",
            min=0.01,
            max=1.0,
            help="Sample from the smallest set of likeliest units holding this probability.",
        ),
    ] = 0.9,
    seed: Annotated[int, typer.Option(help="The same seed gives the same texts.")] = 0,
    max_new: Annotated[int, typer.Option(min=1, max=1000, help="Units generated at most.")] = 60,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=_model_help("korflow-lm", ", the syllable language model")
            + " For morphemes: models:/korflow-lm-morpheme@champion-quick.",
        ),
    ] = None,
) -> None:
    """Continue PROMPT with the forward language model of `korflow lm`: one text a line."""
    loaded = _load_pyfunc(model, "korflow lm", "korflow-lm")
    import pandas as pd

    settings_ = {"n": n, "temperature": temperature, "top_p": top_p, "seed": seed}
    result = loaded.predict(
        pd.DataFrame({"prompt": [prompt]}), params={**settings_, "max_new": max_new}
    )
    for text in result["text"]:
        print(text)


@app.command()
def predict(
    text: Annotated[
        list[str] | None, typer.Argument(help="Reviews; default: lines on stdin.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=_model_help("korflow-sentiment"),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Score a file: .csv, .tsv, .parquet, or .txt (one review a line, or a TSV "
            "with a header such as NSMC's).",
        ),
    ] = None,
    column: Annotated[str, typer.Option(help="The --input column to score.")] = "document",
    output: Annotated[
        Path | None,
        typer.Option(help="Where the scored --input goes: .parquet, .csv, .tsv or .jsonl."),
    ] = None,
) -> None:
    """Label (0 negative / 1 positive) and positive probability for each input."""
    if output and not input_:
        _fail("--output needs --input (the file to score)")
    if input_ and text:
        _fail("give reviews as arguments or a file with --input, not both")
    if input_:
        from korflow.app import scoring

        try:  # the file is checked before the model loads
            table = scoring.read_input(input_, column)
            if output:
                scoring.check_output(output)
        except (ValueError, FileNotFoundError) as exc:
            _fail(exc)
    loaded = _load_pyfunc(model, "korflow sentiment", "korflow-sentiment")
    import pandas as pd

    if input_ and output:
        from korflow.core.cpu import cpu_turn

        with cpu_turn("predict", console.print):
            scored, seconds = scoring.score(table, column, loaded.predict)
        scoring.write_output(scored, output)
        console.print(
            f"scored {len(scored):,} rows in {seconds:.1f} s "
            f"({len(scored) / max(seconds, 1e-9):,.0f} rows/s)"
        )
        print(output)  # stdout: where the results went
        return
    texts = (
        scoring.texts(table, column)
        if input_
        else (text or [line.rstrip("\n") for line in sys.stdin])
    )
    result = loaded.predict(pd.DataFrame({"document": texts}))
    for doc, label, prob in zip(texts, result["label"], result["probability"], strict=True):
        if as_json:
            print(
                json.dumps(
                    {"text": doc, "label": int(label), "probability": round(float(prob), 6)},
                    ensure_ascii=False,
                )
            )
        else:
            print(f"{int(label)}\t{prob:.4f}\t{doc}")


@app.command()
def similar(
    word: Annotated[str, typer.Argument(help="A Korean word; unseen forms work too.")],
    level: Annotated[Literal[LEVELS], typer.Option(help="FastText level.")] = "syllable",
    unit: Annotated[Literal[EMBED_UNITS], typer.Option(help="Its tokens.")] = "morpheme",
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help="A model: runs:/RUN_ID/model, an MLflow artifact URI or a local path.",
        ),
    ] = None,
    topn: Annotated[int, typer.Option(help="How many neighbours.")] = 10,
) -> None:
    """Nearest neighbours of WORD from the latest FastText run of that level (or --model)."""
    if not word.strip():
        _fail("similar needs a word, e.g. `korflow similar 영화`")
    _prepare(False)
    from korean.errors import KoreanNLPError
    from korflow.app.embedding_runs import load_vectors

    try:
        vectors, where = load_vectors(level, unit, model)
    except (KoreanNLPError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    known = (
        "in vocabulary" if word in vectors else "not in vocabulary: vector composed from n-grams"
    )
    console.print(f"{word} ({known}); model {where}")
    for neighbour, score in vectors.most_similar(word, topn=topn):
        print(f"{neighbour}\t{score:.4f}")


@app.command()
def tokenize(
    text: Annotated[
        list[str] | None, typer.Argument(help="Text to analyse; default: lines on stdin.")
    ] = None,
    backend: Annotated[
        Literal[BACKENDS], typer.Option("--tokenizer", "--backend", help="KoNLPy backend.")
    ] = "mecab",
    pos: Annotated[bool, typer.Option("--pos", help="Print morpheme/TAG pairs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
) -> None:
    """Clean and tokenize text the way the corpus flow does NSMC reviews (a quick look at a
    backend)."""
    from korean.clean import REVIEWS, Cleaner
    from korean.errors import KoreanNLPError
    from korean.jamo_units import decompose
    from korean.morphemes import TokenizerConfig, get_tokenizer

    try:
        tok = get_tokenizer(TokenizerConfig(backend=backend))
    except (KoreanNLPError, ValueError) as exc:
        _fail(exc)
    clean = Cleaner(REVIEWS)
    for line in text or (s.rstrip("\n") for s in sys.stdin):
        cleaned = clean(line)
        morphs = [f"{m}/{t}" for m, t in tok.pos(cleaned)] if pos else tok(cleaned)
        if as_json:
            print(
                json.dumps(
                    {
                        "text": line,
                        "cleaned": cleaned,
                        "tokens": morphs,
                        "jamo": decompose(cleaned),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(" ".join(morphs))


if __name__ == "__main__":
    main()
