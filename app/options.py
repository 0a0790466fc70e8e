"""The options several commands take, each declared once with its help: the profile, the data
mirror, the task runner, ``--set``, ``--refresh``, ``--show-config`` and ``--model``, and the
parsing of list options (``--embedding random,lm``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from korflow.core.names import PROFILES

Profile = Annotated[Literal[PROFILES], typer.Option("--profile", "-p", help="Named parameter set.")]
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
# What --model takes, under the names MLflow users type too (-m, --model-uri).
MODEL_FLAGS = ("--model", "-m", "--model-uri")


def model_help(registered: str, more: str = "") -> str:
    return (
        f"A pyfunc model URI (runs:/ID/model, models:/NAME/VERSION, ...); default: "
        f"models:/{registered}@champion{more} (the quick profile's champion while no full "
        "model exists)."
    )


def names(allowed: tuple[str, ...]) -> dict:
    """A list option's parsing: repeatable and comma lists alike (``--embedding random,lm`` or
    ``--embedding random --embedding lm``), ``all`` for every name; a name outside
    ``allowed`` is a usage error (exit 2) that lists them. Completes the names in a shell."""

    def parse(values: list[str] | None) -> list[str] | None:
        chosen = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
        if not chosen:
            return None
        if "all" in chosen:
            return list(allowed)
        if bad := [n for n in chosen if n not in allowed]:
            raise typer.BadParameter(
                f"{', '.join(map(repr, bad))}: choose from {', '.join(allowed)} or all"
            )
        return list(dict.fromkeys(chosen))

    def complete(incomplete: str) -> list[str]:
        return [n for n in (*allowed, "all") if n.startswith(incomplete.split(",")[-1])]

    return {"callback": parse, "autocompletion": complete}
