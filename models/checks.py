"""Range checks for the configs' numbers, so a bad setting fails where it is read (the CLI
checks a whole pipeline's settings before the first stage), not minutes into a training."""

from __future__ import annotations

from typing import Any


def check_ranges(
    config: Any,
    at_least_one: tuple[str, ...] = (),
    positive: tuple[str, ...] = (),
    non_negative: tuple[str, ...] = (),
    below_one: tuple[str, ...] = (),
) -> None:
    """Raise ValueError naming the first field out of its range (``below_one``: in [0, 1))."""
    for names, ok, allowed in (
        (at_least_one, lambda v: v >= 1, ">= 1"),
        (positive, lambda v: v > 0, "> 0"),
        (non_negative, lambda v: v >= 0, ">= 0"),
        (below_one, lambda v: 0 <= v < 1, "in [0, 1)"),
    ):
        for name in names:
            value = getattr(config, name)
            if not ok(value):
                raise ValueError(f"{name} must be {allowed}, not {value}")
