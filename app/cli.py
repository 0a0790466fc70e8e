"""The ``korflow`` command line: the root command and its options, and the commands by what they
do (``stage_commands``, ``run_commands``, ``model_commands``)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from app import model_commands, run_commands, stage_commands
from app.console import debug, error_line

app = typer.Typer(
    help="Korean NLP workflow: corpus -> FastText -> LSTMs, on Prefect and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for part in (stage_commands, run_commands, model_commands):  # the order `korflow --help` lists
    app.add_typer(part.commands)


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


def main() -> None:
    """The console command: a failure ends with one line (what, where, how to fix) and exit
    code 1; ``--debug`` or KORFLOW_DEBUG=1 shows the traceback instead."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the edge: every failure becomes one line
        if debug():
            raise
        error_line(exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
