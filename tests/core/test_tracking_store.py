"""A fresh MLflow store is initialised once, safely, when korflow commands start together."""

import os
import subprocess
import sys


def test_first_runs_started_together_on_an_empty_store(tmp_path):
    env = {**os.environ, "KORFLOW_HOME": str(tmp_path / "home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    code = (
        "from korflow.core import settings, tracking; settings.configure(); print(tracking.setup())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one store, one korflow experiment
