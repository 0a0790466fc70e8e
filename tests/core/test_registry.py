"""The Model Registry's champion: per profile, never moved by a registry error, NaN-safe."""

import itertools
import math

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from korflow.core import registry, tracking

_names = (f"korflow-registry-test-{i}" for i in itertools.count())


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.fixture
def name():
    tracking.setup()
    return next(_names)


def _register(name, score, profile="full"):
    with mlflow.start_run() as run:
        mlflow.set_tag("korflow.profile", profile)
        mlflow.log_metric("val_accuracy", score)
        info = mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
    return registry.register(info.model_uri, name, run.info.run_id, "val_accuracy")


def test_runs_model_uris_find_a_model_named_after_its_stage(name):
    with mlflow.start_run() as old:
        mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
    with mlflow.start_run() as new:
        mlflow.pyfunc.log_model(name="sentiment-jamo", python_model=_Echo(), pip_requirements=[])
    old, new = old.info.run_id, new.info.run_id
    assert registry.resolve(f"runs:/{old}/model") == f"runs:/{old}/model"
    assert registry.resolve(f"runs:/{new}/model") == f"runs:/{new}/sentiment-jamo"
    inner = registry.resolve(f"runs:/{new}/model/MLmodel")
    assert inner == f"runs:/{new}/sentiment-jamo/MLmodel"
    assert mlflow.pyfunc.load_model(registry.resolve(f"runs:/{new}/model")).predict(["a"]) == ["a"]
    for other in (f"runs:/{new}/weights/x.pt", f"models:/{name}@champion", "/a/path"):
        assert registry.resolve(other) == other


def _alias(name, alias):
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def test_profiles_compete_only_with_themselves(name):
    full = _register(name, 0.80, "full")
    assert full.promoted and _alias(name, "champion") == _alias(name, "champion-full") == "1"
    # A quick model scores higher on its own (easier, smaller) validation slice: it becomes the
    # quick champion and leaves the deployed champion alone.
    quick = _register(name, 0.95, "quick")
    assert quick.promoted and _alias(name, "champion-quick") == "2"
    assert _alias(name, "champion") == "1"
    assert registry.serving_uri(name) == f"models:/{name}@champion"
    better = _register(name, 0.85, "full")
    assert better.previous_version == "1" and _alias(name, "champion") == "3"


def test_quick_champion_serves_until_a_full_model_exists(name):
    _register(name, 0.7, "quick")
    assert _alias(name, "champion") is None
    assert registry.serving_uri(name) == f"models:/{name}@champion-quick"


def test_nan_never_wins_and_a_nan_champion_is_replaced(name):
    nan = _register(name, math.nan)
    assert not nan.promoted and _alias(name, "champion") is None
    # A store from before this rule may hold a NaN champion: any finite score replaces it.
    for alias in ("champion", "champion-full"):
        MlflowClient().set_registered_model_alias(name, alias, nan.version)
    finite = _register(name, 0.5)
    assert finite.promoted and _alias(name, "champion") == finite.version


def test_a_registry_error_promotes_nothing(name, monkeypatch):
    first = _register(name, 0.6)

    def broken(self, *args, **kwargs):
        raise MlflowException("database is locked")

    monkeypatch.setattr(MlflowClient, "get_model_version_by_alias", broken)
    second = _register(name, 0.9)
    monkeypatch.undo()
    assert not second.promoted and "database is locked" in second.error
    assert _alias(name, "champion") == first.version
