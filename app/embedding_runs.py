"""Find and load trained FastText models: the latest MLflow run of a level, or a given URI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow

from korean.embeddings import KoreanVectors
from korflow.core import compare, tracking


def _model_file(folder: Path) -> Path:
    found = sorted(folder.rglob("*.model"))
    if not found:
        raise FileNotFoundError(f"no gensim *.model file under {folder}")
    return found[0]


def local_artifact(uri: str) -> Path | None:
    """The artifact's own folder when the run's artifacts are on this machine's disk (a local
    store): read there, not copied (a full-profile model is 100 MB); None otherwise."""
    if uri.startswith("runs:/"):
        run_id, _, inner = uri.removeprefix("runs:/").partition("/")
        uri = f"{mlflow.get_run(run_id).info.artifact_uri.rstrip('/')}/{inner}"
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    path = Path(url2pathname(parsed.path))
    return path if path.exists() else None


def latest_run(level: str, unit: str):
    tracking.setup()
    runs = mlflow.search_runs(
        experiment_names=[tracking.EXPERIMENT],
        filter_string=(
            f"tags.`korflow.level` = '{level}' and tags.`korflow.unit` = '{unit}' "
            "and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=100,
        output_format="list",
    )
    runs = [r for r in runs if compare.stage_of(r.data.tags) == "embed"]
    if not runs:
        raise FileNotFoundError(
            f"no finished FastText run for level={level}, unit={unit}: run `korflow embed` first"
        )
    return runs[0]


def load_vectors(
    level: str, unit: str = "morpheme", uri: str | None = None
) -> tuple[KoreanVectors, str]:
    """(vectors, where they came from). ``uri``: a local path, runs:/ID/model or an artifact URI."""
    if level not in ("syllable", "jamo"):
        raise ValueError(f"level must be syllable or jamo, not {level!r}")
    if uri is None:
        run = latest_run(level, unit)
        uri = f"runs:/{run.info.run_id}/model"
    path = Path(uri)
    if not path.exists():
        tracking.setup()
        path = local_artifact(uri) or Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    model = path if path.is_file() else _model_file(path)
    return KoreanVectors.load(model, level), uri
