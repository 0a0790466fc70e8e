"""Cache policy for data tasks: inputs (which carry content digests) + code + packages.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part is derived, not listed: the task's whole
module and every project module it imports, directly or not (read from the import statements,
so an import inside a function counts too). A fix anywhere a task reaches invalidates its
results, and only its. Files named in settings (a stop-word list) are keyed by their content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy, Inputs

from korflow.core.imports import ROOT, code_files
from korflow.core.packages import CORPUS_TASKS

# The package lists: what they change in a task's key, the versions of the packages it names,
# is in the key already; a change to another list must not re-run every task.
NOT_CODE = ROOT / "korflow" / "core" / "packages.py"


@cache
def code_digest(module: str) -> str:
    digest = hashlib.sha256()
    for file in (f for f in code_files(module) if f != NOT_CODE):
        digest.update(str(file.relative_to(ROOT)).encode())
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


def data_cache(*packages: str, exclude: tuple[str, ...] = ()) -> CachePolicy:
    """Inputs (but ``exclude``: where a result is reported, not what it is) + the task's code
    (its module and all it imports) + the packages it calls."""
    return Inputs(exclude=list(exclude)) + ProjectCode(packages=packages)


CORPUS_CACHE = data_cache(*CORPUS_TASKS)
