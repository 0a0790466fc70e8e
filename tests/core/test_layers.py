"""The layers of korflow/__init__.py, checked on the source: no module imports a layer above
its own (imports inside functions count too), and the pure libraries import no framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from korflow.core.imports import ROOT, imports_of

# Lowest first; a module may import its own layer and those below.
LAYERS = (
    ("korean", "models"),
    ("korflow.core",),
    ("korflow.serving",),
    ("tasks",),
    ("flows",),
    ("app",),
)
PURE = {"korean": ("prefect", "mlflow", "torch"), "models": ("prefect", "mlflow", "korean")}


def layer_of(module: str) -> int | None:
    for height, packages in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in packages):
            return height
    return None  # korflow itself (the package marker) and what is not the project's


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if layer_of(name) is not None:
            found.append((name, path))
    return found


def test_every_package_has_a_layer():
    tops = {name.split(".")[0] for name, _ in modules()}
    assert tops == {"korean", "models", "korflow", "tasks", "flows", "app"}
    # korflow/ holds the layers below the tasks only: the application is a folder of its own.
    korflow = {p.name for p in (ROOT / "korflow").iterdir() if p.suffix == ".py" or p.is_dir()}
    assert korflow - {"__pycache__"} == {"__init__.py", "core", "serving"}


@pytest.mark.parametrize(("name", "path"), modules(), ids=lambda v: str(v)[-40:])
def test_no_module_imports_a_layer_above_its_own(name, path):
    own = layer_of(name)
    upward = sorted(m for m in imports_of(name, path) if (layer_of(m) or 0) > own)
    assert not upward, f"{name} (layer {own}) imports from above: {upward}"


@pytest.mark.parametrize("package", sorted(PURE))
def test_pure_libraries_import_no_framework(package):
    for path in sorted((ROOT / package).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add((node.module or "").split(".")[0])
        assert not names & set(PURE[package]), f"{path.name} imports {names & set(PURE[package])}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk itself: a core module that imports a flow is caught."""
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from flows.corpus import corpus_flow\n", encoding="utf-8")
    found = imports_of("korflow.core.bad", path)
    assert "flows.corpus" in found and layer_of("flows.corpus") > layer_of("korflow.core.bad")


def test_the_project_imports_its_own_code_by_name():
    """No ``importlib`` for the project's own modules (the dependency would be invisible to a
    reader and to this test), but in two places: the file MLflow runs to build a served model
    looks its PythonModel up from the model's config, and the stage registry loads the flow and
    the settings each stage names (``korflow.core.stages.load``; checked below)."""
    allowed = {"korflow.serving.model_code", "korflow.core.stages"}
    found = [
        name
        for name, path in modules()
        if "import_module" in path.read_text(encoding="utf-8") and name not in allowed
    ]
    assert not found


def test_the_registry_loads_a_layer_only_from_that_layer():
    """What ``stages.load`` imports by name is no higher than the module that calls it: the
    stages' flows are loaded by the flows (the pipeline), their settings by the settings."""
    from korflow.core.stages import SPEC

    assert all(s.flow.startswith("flows.") for s in SPEC.values())
    assert all(s.settings.startswith("korflow.core.config.") for s in SPEC.values())
    for name, path in modules():
        text = path.read_text(encoding="utf-8")
        if "load(" in text and ".flow)" in text:
            assert name.startswith("flows."), name
        if "load(" in text and ".settings)" in text:
            assert name.startswith("korflow.core.config."), name
