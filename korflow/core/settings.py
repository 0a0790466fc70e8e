"""Where things go: KORFLOW_HOME, the data mirror, MLflow and Prefect storage.

Call ``configure()`` before importing Prefect or MLflow so that their defaults land under
KORFLOW_HOME: a fresh clone runs with no server started by hand (Prefect's ephemeral API,
MLflow on a local SQLite store), and the environment variables override every default.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path:
    return Path(os.environ.get("KORFLOW_HOME", "korflow-home")).resolve()


def output_path(stage: str, *parts: str) -> Path:
    """The one naming of output folders: what stage ``stage`` writes lives under
    KORFLOW_HOME/<stage>/ (corpus shards, FastText models, tensors, training runs)."""
    return home().joinpath(stage, *parts)


def data_mirror(explicit: str | Path | None = None) -> Path | None:
    """The local mirror folder: the CLI flag, else KORFLOW_DATA_MIRROR, else None (download)."""
    value = explicit or os.environ.get("KORFLOW_DATA_MIRROR")
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data mirror {path} is not a folder (KORFLOW_DATA_MIRROR / --data-mirror)"
        )
    return path


def mirror_arg(explicit: str | Path | None = None) -> str | None:
    """``data_mirror`` as the flows pass it on: an absolute path string, or None (download)."""
    mirror = data_mirror(explicit)
    return str(mirror) if mirror else None


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def configure(korflow_home: str | Path | None = None) -> Path:
    """Fix KORFLOW_HOME and point Prefect results and MLflow defaults under it."""
    if korflow_home:
        os.environ["KORFLOW_HOME"] = str(Path(korflow_home).resolve())
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(root / "prefect-results"))
    # Prefect's database per korflow home, as `korflow serve` keeps it: homes do not share
    # flow runs, and the served UI shows the runs made here. The user's Prefect profiles (a
    # server set with `prefect config set PREFECT_API_URL=…`) stay where Prefect keeps them.
    if "PREFECT_HOME" not in os.environ:
        os.environ.setdefault("PREFECT_PROFILES_PATH", str(Path.home() / ".prefect/profiles.toml"))
        os.environ["PREFECT_HOME"] = str(root / "prefect")
    os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri())
    # The ephemeral Prefect server's telemetry heartbeat only contends for its SQLite file.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The ephemeral API starts in a subprocess; on a busy 2-core machine that can take longer
    # than Prefect's default 20 s, which would fail a run before it starts.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # gensim reports training progress (per epoch) through logging; show it in the run logs.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "gensim")
    return root
