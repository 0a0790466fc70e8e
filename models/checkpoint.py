"""A training's checkpoint: what both training loops save every epoch (or round) and read back
to resume, and a damaged file set aside rather than trusted or left to block every later run.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import save_atomic


def save(
    path: Path, device: torch.device, model: nn.Module, optimizer, scheduler, scaler, **extra: Any
) -> None:
    """The weights, the optimizer, schedule and scaler states and the RNG states (so a resumed
    run draws what an uninterrupted one would), with the loop's own ``extra`` fields."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        **extra,
    }
    save_atomic(state, path)


def resume(
    path: Path | None,
    device: torch.device,
    model: nn.Module,
    optimizer,
    scheduler,
    scaler,
    **expected: Any,
) -> dict | None:
    """Restore what ``save`` wrote at ``path`` and return its fields, or None when there is
    nothing to resume from. ``expected``: fields that must match (the settings it was written
    with). A file whose bytes cannot be read back (truncated, overwritten) is renamed
    ``*.damaged`` with a warning naming it, and the training starts from scratch; an error of
    the disk or the file system is raised as it is."""
    if path is None or not path.is_file():
        return None
    try:  # read into CPU memory: a full GPU is not a damaged file
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError("not a korflow checkpoint")
    except (EOFError, pickle.UnpicklingError, RuntimeError, ValueError) as exc:  # the bytes
        aside = path.with_name(path.name + ".damaged")
        path.replace(aside)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.warn(
            f"checkpoint {path} is damaged ({reason}): set aside as {aside.name}; training "
            "starts from scratch",
            stacklevel=2,
        )
        return None
    if any(state.get(key) != value for key, value in expected.items()):
        raise ValueError(f"{path} was written with other settings; use a new folder")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"].cpu())
    if device.type == "cuda" and state.get("cuda_rng"):
        torch.cuda.set_rng_state_all([r.cpu() for r in state["cuda_rng"]])
    return state
