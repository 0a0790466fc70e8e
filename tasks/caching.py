"""Cache policy for data tasks: inputs (which carry content digests) + code.

Task inputs are ``Shard``/``SourceFile`` objects whose sha256 is part of the hashed inputs, so
an unchanged input with unchanged parameters hits the cache, and a changed file or option
re-runs only the tasks downstream of it. The code part covers the task's own source and the
pure libraries it calls (korean/, korflow/datasets.py), so a fix there invalidates results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
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


@dataclass
class LibrarySource(CachePolicy):
    paths: tuple[str, ...] = ("korean", "korflow/datasets.py")

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str:
        return library_digest(self.paths)


DATA_CACHE = INPUTS + TASK_SOURCE + LibrarySource()
