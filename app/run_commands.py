"""The commands about runs: ``compare`` (across runs and variants), ``reproduce`` (a past run
again, metric by metric) and ``serve`` (prefect.yaml's schedules from this process)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import typer

from app.console import console, fail, prepare
from app.options import Mirror, names
from korflow.core import crash, settings
from korflow.core.names import PROFILES, STAGES

commands = typer.Typer()


@commands.command()
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
            "--stage", "--stages", help="Only these stages.", **names(("pipeline", *STAGES))
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder.")] = None,
    fmt: Annotated[
        Literal["md", "html", "json", "csv"],
        typer.Option("--format", help="md or html for people; json or csv for scripts."),
    ] = "md",
) -> None:
    """Key metrics across runs and variants; writes a report with plots and logs it to MLflow."""
    prepare(False)
    from datetime import datetime

    import mlflow

    from korflow.core import compare as cmp
    from korflow.core import tracking

    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since {since!r} is not a date (YYYY-MM-DD)")
    runs = cmp.search(profile, start, pipeline_run, tuple(stage) if stage else tuple(cmp.STAGES))
    if runs.empty:
        fail("no finished korflow runs match; run a stage or `korflow pipeline` first")
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


@commands.command()
def reproduce(
    run_id: Annotated[str, typer.Argument(help="An MLflow run id of a stage or pipeline run.")],
    data_mirror: Mirror = None,
) -> None:
    """Re-run a past run from its logged configuration; print its metrics beside the original's
    (exit status 1 when a non-timing metric differs)."""
    prepare(True)  # recompute every task: a cache hit would prove nothing
    from app.reproduce import reproduce as rerun

    crash.handle_sigterm()  # now that Prefect is imported: its SIGTERM bridge too

    try:
        record, rows = rerun(run_id, str(data_mirror) if data_mirror else None)
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
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


@commands.command()
def serve(
    port: Annotated[int, typer.Option(help="Port of the local Prefect server.")] = 4200,
    deployment: Annotated[
        list[str] | None, typer.Option(help="Serve only these deployments (repeatable).")
    ] = None,
) -> None:
    """Serve prefect.yaml's schedules from this process (starts and stops a local Prefect
    server itself; Ctrl-C stops both)."""
    prepare(False)
    from app import serve as serving

    with serving.local_server(port) as api_url:
        os.environ["PREFECT_API_URL"] = api_url  # before Prefect reads its settings
        from prefect import serve as prefect_serve

        try:
            deployments = serving.build(names=deployment)
        except ValueError as exc:
            fail(exc)
        from korflow.core.gpu import GPU_LIMIT, ensure_limit

        if ensure_limit(api_url):  # GPU trainings of the served runs then take turns
            console.print(f"created the global concurrency limit {GPU_LIMIT} (1 slot)")
        console.print(f"Prefect server {api_url.removesuffix('/api')} (UI); serving:")
        for d in deployments:
            console.print(f"  {d.name}: {[s.schedule for s in d.schedules]}", markup=False)
        prefect_serve(*deployments)
