"""One training at a time on a machine's GPU, across every worker of a Prefect server: a training
on CUDA holds a slot of the global concurrency limit ``korflow-gpu`` while it trains (CPU stages
take no slot and run beside it; ``korflow.core.cpu`` keeps heavy CPU jobs in turns).

The limit lives on the Prefect server: ``korflow serve`` creates it, a team server gets it with
``prefect gcl create korflow-gpu --limit 1`` (the number of trainings a GPU may hold at once).
Where it does not exist (Prefect's ephemeral API) the slot is free and nothing waits.

``KORFLOW_GPU_SLOT``: ``auto`` (default; trainings on CUDA take the slot), ``always`` (every
training does, e.g. to train one model at a time across workers, or to test the slot on a CPU
machine), ``off``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

GPU_LIMIT = "korflow-gpu"
MODES = ("auto", "always", "off")


def slot_mode() -> str:
    mode = os.environ.get("KORFLOW_GPU_SLOT", "auto").strip() or "auto"
    if mode not in MODES:
        raise ValueError(f"KORFLOW_GPU_SLOT={mode!r}: use one of {', '.join(MODES)}")
    return mode


@contextlib.contextmanager
def gpu_slot(job: str, on_gpu: bool, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold a ``korflow-gpu`` slot for the body when the job trains on a GPU (or
    KORFLOW_GPU_SLOT=always); says when it asks, gets and gives the slot back."""
    mode = slot_mode()
    if mode == "off" or (mode == "auto" and not on_gpu):
        yield
        return
    from prefect.concurrency.sync import concurrency

    log(f"{job}: asking for the GPU slot ({GPU_LIMIT})")
    asked = time.monotonic()
    # A training may outlast one lease: Prefect renews it while the body runs.
    with concurrency(GPU_LIMIT, occupy=1):
        log(f"{job}: got the GPU slot after {time.monotonic() - asked:.0f} s")
        try:
            yield
        finally:
            log(f"{job}: gives the GPU slot back")


def ensure_limit(api_url: str, slots: int = 1) -> bool:
    """Create the ``korflow-gpu`` limit on the Prefect server at ``api_url`` unless it exists;
    True when this call created it."""
    import requests

    found = requests.get(f"{api_url}/v2/concurrency_limits/{GPU_LIMIT}", timeout=10)
    if found.ok:
        return False
    if found.status_code != 404:
        found.raise_for_status()
    made = requests.post(
        f"{api_url}/v2/concurrency_limits/",
        json={"name": GPU_LIMIT, "limit": slots, "active": True},
        timeout=10,
    )
    made.raise_for_status()
    return True
