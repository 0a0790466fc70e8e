"""The project's own import graph, read from the source (``import`` statements anywhere in a
file, inside functions too): which of the project's files a module runs. Task cache keys hash
them; a logged model ships exactly them."""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("korean", "models", "korflow", "tasks", "flows", "app")


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(name: str, path: Path) -> set[str]:
    """Project modules that ``path`` (module ``name``) imports, with their packages."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .data import y
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    out = set()
    for module in found:
        parts = module.split(".")
        if parts[0] in PROJECT_PACKAGES:  # the module and the packages it runs on import
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return out


@cache
def code_files(module: str) -> tuple[Path, ...]:
    """The project's source files that ``module`` runs: itself and what it imports."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = None if name in seen else _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo += sorted(imports_of(name, path) - set(seen))
    return tuple(sorted(set(seen.values())))


@contextlib.contextmanager
def sys_path_kept() -> Iterator[None]:
    """``sys.path`` put back as it was after the body. Loading a logged model (MLflow puts its
    code folder first) or a flow from its file (Prefect puts the file's folder first) changes it
    for good; this process has imported korflow already and never reads what was put there,
    but the Python processes it starts later do: a Dask cluster's workers inherit ``sys.path``,
    found a model's partial copy of korflow without the flows' modules, and the flow that sent
    them tasks waited for ever."""
    before = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = before
