"""Where an interrupted training resumes from, and when it must not.

A training writes a checkpoint every epoch under its run folder (named by its inputs and
settings), so a killed run that is started again resumes where it stopped. A refreshed cache
(``--refresh``, ``korflow reproduce``) means "compute again", so then any leftover checkpoint
is removed first: the training starts from scratch, never from an earlier run's epochs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect.settings import PREFECT_TASKS_REFRESH_CACHE


def checkpoint_dir(run_dir: Path) -> Path:
    folder = run_dir / "checkpoints"
    if PREFECT_TASKS_REFRESH_CACHE.value():
        shutil.rmtree(folder, ignore_errors=True)
    return folder


def finished(run_dir: Path) -> None:
    """A finished training's checkpoint only served interruptions: a re-run trains afresh."""
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
