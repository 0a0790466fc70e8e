"""Cache policy for data tasks: inputs (which carry content digests) + code + packages.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part is derived, not listed: the task's whole
module and every project module it imports, directly or not (read from the import statements,
so an import inside a function counts too). A fix anywhere a task reaches invalidates its
results, and only its. Files named in settings (a stop-word list) are keyed by their content.

A cached result is served only while the files it names are what its task wrote: shards
against the sha256 they carry, every other file under KORFLOW_HOME (a vocabulary, tensors,
weights, a FastText model) against the seal its task wrote beside the result (``data_task``).
A truncated, edited or deleted file makes its task run again (under the entry's next healed
key), which rewrites it where it was, so the next run finds a whole entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import CachePolicy, Inputs
from prefect.logging import get_run_logger
from pydantic import BaseModel

from korflow.core import settings
from korflow.core.datasets import Shard, digest_of, sha256_file, write_json_atomic
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


def named_files(value: Any) -> list[str]:
    """Digests of the files that settings name (a stop-word list): by content, not path."""
    stopwords = getattr(value, "stopwords", None)
    if isinstance(stopwords, str) and Path(stopwords).is_file():
        return [hashlib.sha256(Path(stopwords).read_bytes()).hexdigest()]
    if isinstance(value, (list, tuple)):
        return [d for item in value for d in named_files(item)]
    return []


@dataclass
class ProjectCode(CachePolicy):
    """The code a task runs (derived from its module's imports), the files its settings name,
    and the packages it depends on (a new MeCab dictionary or gensim release changes results)."""

    packages: tuple[str, ...] = ()

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str:
        files = [d for value in inputs.values() for d in named_files(value)]
        return (
            code_digest(task_ctx.task.fn.__module__)
            + package_versions(self.packages)
            + "".join(files)
        )


def _leaves(value: Any) -> Iterator[Any]:
    """The shards and plain values a task result holds, however nested (a Dataset, a list, a
    dict); a shard is one leaf, not its fields."""
    if isinstance(value, BaseModel) and not isinstance(value, Shard):
        value = dict(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def shards_in(value: Any) -> list[Shard]:
    return [leaf for leaf in _leaves(value) if isinstance(leaf, Shard)]


def _differs(path: Path, sha256: str) -> str | None:
    if not path.is_file():
        return "missing"
    if (now := sha256_file(path)) != sha256:
        return f"sha256 {now[:12]}…, written as {sha256[:12]}…"
    return None


def paths_in(value: Any) -> list[str]:
    """The paths under KORFLOW_HOME that a task result names, shards aside (they carry their
    own sha256)."""
    home = str(settings.home())
    return sorted({v for v in _leaves(value) if isinstance(v, str) and v.startswith(home)})


def _files(path: Path) -> list[Path]:
    """A file, or a folder's files (never a checkpoint: it only serves an interrupted run)."""
    if path.is_file():
        return [path]
    found = path.rglob("*") if path.is_dir() else []
    return sorted(
        f
        for f in found
        if f.is_file() and not f.name.startswith(".") and "checkpoints" not in f.parts
    )


def _seal_path(paths: list[str]) -> Path:
    """Where the seal of a result naming ``paths`` is: by the names, not by what a named folder
    holds now (a later task may add files to it)."""
    return settings.home() / "seals" / f"{digest_of(paths)}.json"


def seal(result: Any) -> None:
    """Record the sha256 of every file ``result`` names (and of each named folder's files),
    for ``IntactOutputs`` to check before serving it again."""
    if paths := paths_in(result):
        files = [f for p in paths for f in _files(Path(p))]
        write_json_atomic({str(f): sha256_file(f) for f in files}, _seal_path(paths))


def broken_files(result: Any) -> list[tuple[str, str]]:
    """(path, why) of each file ``result`` names that is not what its task wrote."""
    found = [(s.path, why) for s in shards_in(result) if (why := _differs(Path(s.path), s.sha256))]
    paths = paths_in(result)
    sealed = _seal_path(paths)
    if paths and sealed.is_file():
        digests = json.loads(sealed.read_text(encoding="utf-8"))
        found += [(p, why) for p, sha in digests.items() if (why := _differs(Path(p), sha))]
    return found


@dataclass
class IntactOutputs(CachePolicy):
    """``inner``'s key, unless the result cached under it names a damaged file: then the first
    whole healed successor's, else a new one, so the task runs again and rewrites the file
    (logged)."""

    inner: CachePolicy | None = None

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        key = self.inner.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        store = getattr(task_ctx, "result_store", None)
        if key is None or store is None:
            return key
        # The entry, else its healed successors in turn: the first that is whole is served, a
        # free one is computed (a file damaged again moves on to the next).
        damage: list[tuple[str, str]] = []
        for attempt in range(100):
            candidate = key if attempt == 0 else f"{key}-healed-{attempt}"
            try:
                if not store.exists(candidate):
                    break
                found = broken_files(store.read(candidate).result)
            except Exception:  # noqa: BLE001 - an unreadable record is Prefect's to report
                return candidate
            if not found:
                return candidate
            damage = found
        for path, why in damage:  # what this run computes again, and why
            get_run_logger().warning(
                "cached output %s is damaged (%s): computing it again", path, why
            )
        return candidate


def data_cache(*packages: str, exclude: tuple[str, ...] = ()) -> CachePolicy:
    """Inputs (but ``exclude``: where a result is reported, not what it is) + the task's code
    (its module and all it imports) + the packages it calls; served only with the files it
    names intact."""
    return IntactOutputs(inner=Inputs(exclude=list(exclude)) + ProjectCode(packages=packages))


CORPUS_CACHE = data_cache(*CORPUS_TASKS)


def data_task(cache_policy: CachePolicy) -> Callable:
    """``@task`` for a task whose result is cached on disk: the files it names are sealed as
    it returns, so a later run serves it only while they are intact."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def sealed(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            seal(result)
            return result

        return task(cache_policy=cache_policy, persist_result=True)(sealed)

    return decorate
