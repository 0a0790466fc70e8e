"""Cache policy for data tasks: inputs (which carry content digests) + code + packages.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part is derived, not listed: the task's whole
module and every project module it imports, directly or not (read from the import statements,
so an import inside a function counts too). A fix anywhere a task reaches invalidates its
results, and only its. Files named in settings (a stop-word list) are keyed by their content.

A cached result is served only while the shards it names still match the sha256 recorded when
they were written: a truncated or edited shard makes its task run again (under a key naming
the damage), which rewrites the file where it was, so the next run finds the entry whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy, Inputs
from prefect.logging import get_run_logger
from pydantic import BaseModel

from korflow.core.datasets import Shard, digest_of, sha256_file
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


def shards_in(value: Any) -> list[Shard]:
    """The shards a task result holds, however nested (a Dataset, a list, a dict)."""
    if isinstance(value, Shard):
        return [value]
    if isinstance(value, BaseModel):
        value = dict(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in shards_in(item)]
    return []


def damaged(shard: Shard) -> str | None:
    """Why ``shard``'s file is not what was written (None when it is)."""
    path = Path(shard.path)
    if not path.is_file():
        return "missing"
    if sha256_file(path) != shard.sha256:
        return f"sha256 {sha256_file(path)[:12]}…, written as {shard.sha256[:12]}…"
    return None


@dataclass
class IntactOutputs(CachePolicy):
    """``inner``'s key, unless the result cached under it names a damaged shard: then a key
    naming the damage, so the task runs again and rewrites the shard (logged)."""

    inner: CachePolicy | None = None

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        key = self.inner.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        store = getattr(task_ctx, "result_store", None)
        if key is None or store is None or not store.exists(key):
            return key
        try:
            result = store.read(key).result
        except Exception:  # noqa: BLE001 - an unreadable record is Prefect's to report
            return key
        found = [(s, why) for s in shards_in(result) if (why := damaged(s))]
        if not found:
            return key
        logger = get_run_logger()
        for shard, why in found:
            logger.warning("cached shard %s is damaged (%s): computing it again", shard.path, why)
        return f"{key}-healed-{digest_of([(s.path, why) for s, why in found])}"


def data_cache(*packages: str, exclude: tuple[str, ...] = ()) -> CachePolicy:
    """Inputs (but ``exclude``: where a result is reported, not what it is) + the task's code
    (its module and all it imports) + the packages it calls; served only with its shards
    intact."""
    return IntactOutputs(inner=Inputs(exclude=list(exclude)) + ProjectCode(packages=packages))


CORPUS_CACHE = data_cache(*CORPUS_TASKS)
