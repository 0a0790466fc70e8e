"""prefect.yaml: every deployment's entrypoint resolves from the repo root, its parameters
validate against the flow and the profile, its schedule is a valid cron; ``korflow serve``
builds and serves them on a local Prefect server that it starts and stops itself."""

import importlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from prefect import Flow

from app.serve import build, free_port
from korflow.core.config import resolve
from tests.helpers import CLI, stop_group

ROOT = Path(__file__).resolve().parents[2]  # the project
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_resolves(deployment):
    path, func = deployment["entrypoint"].split(":")
    assert (ROOT / path).is_file()
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), func)
    assert isinstance(flow, Flow)
    params = deployment.get("parameters", {})
    flow.validate_parameters(params)  # raises on unknown or ill-typed parameters
    stage = path.removeprefix("flows/").removesuffix(".py")
    resolve.stage_config(stage, params["profile"], params.get("overrides"))
    from prefect.client.schemas.schedules import CronSchedule

    for schedule in deployment["schedules"]:
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_the_pipeline_is_scheduled_for_both_profiles():
    pipeline = [d for d in DEPLOYMENTS if d["entrypoint"] == "flows/pipeline.py:pipeline_flow"]
    assert {d["parameters"]["profile"] for d in pipeline} == {"quick", "full"}


def test_serve_builds_every_deployment_with_its_schedule():
    built = {d.name: d for d in build()}
    assert set(built) == {d["name"] for d in DEPLOYMENTS}
    for spec in DEPLOYMENTS:
        d = built[spec["name"]]
        assert d.parameters == spec["parameters"]
        assert [s.schedule.cron for s in d.schedules] == [s["cron"] for s in spec["schedules"]]
    with pytest.raises(ValueError, match="unknown deployment"):
        build(names=["nightly-everything"])


@pytest.mark.slow
def test_korflow_serve_registers_the_schedules_on_its_own_server(tmp_path):
    port = free_port()
    env = {**os.environ, "KORFLOW_HOME": str(tmp_path), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--port",
            str(port),
            "--deployment",
            "pipeline-quick",
            "--deployment",
            "corpus-full",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        found, deadline = [], time.monotonic() + 240
        while len(found) < 2 and time.monotonic() < deadline:
            time.sleep(2)
            try:
                found = requests.post(f"{api}/deployments/filter", json={}, timeout=5).json()
            except requests.RequestException:
                continue
        assert sorted(d["name"] for d in found) == ["corpus-full", "pipeline-quick"]
        crons = {d["name"]: [s["schedule"]["cron"] for s in d["schedules"]] for d in found}
        assert crons == {"pipeline-quick": ["0 1 * * *"], "corpus-full": ["0 3 * * 0"]}
        # The UI served on this port asks this port's API, not 4200's.
        ui = requests.get(f"http://127.0.0.1:{port}/ui-settings", timeout=5).json()
        assert ui["api_url"] == api
        # GPU trainings of the served runs take turns: the limit they ask for exists.
        limit = requests.get(f"{api}/v2/concurrency_limits/korflow-gpu", timeout=5).json()
        assert (limit["limit"], limit["active"]) == (1, True)
    finally:
        stop_group(server, signal.SIGINT, 60)
    # Stopping korflow serve stops the Prefect server it started.
    with pytest.raises(requests.RequestException):
        requests.get(f"{api}/health", timeout=2)
