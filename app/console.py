"""What every command shares at the edge: stderr for people (stdout carries results), a failure
as one line (what, where, how to fix) and exit status 1, ``--debug`` for the traceback, and the
settings made before Prefect and MLflow are imported."""

from __future__ import annotations

import logging
import os

import typer
from rich.console import Console
from rich.markup import escape

from korflow.core import crash, settings
from korflow.core.errors import one_line
from korflow.core.secrets import redact

console = Console(stderr=True)


def prepare(refresh: bool = False) -> None:
    """Settings must be in the environment before Prefect and MLflow are imported."""
    if refresh:
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    settings.configure()
    crash.clean_up_after_killed_runs(console.print)  # imports Prefect: settings come first


def debug() -> bool:
    return os.environ.get("KORFLOW_DEBUG", "0") not in ("", "0")


def error_line(exc: Exception | str) -> None:
    """The failure's one line, last on stderr (Prefect's server goodbye is silenced)."""
    message = exc if isinstance(exc, str) else one_line(exc)
    logging.getLogger("prefect").setLevel(logging.WARNING)
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(exc: Exception | str) -> None:
    if debug() and isinstance(exc, Exception):
        raise exc
    error_line(exc)
    raise typer.Exit(1)


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


def quiet_tracebacks() -> None:
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_Redacted())
            if not debug():
                handler.addFilter(_NoTraceback())
