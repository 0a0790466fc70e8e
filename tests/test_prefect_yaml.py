"""prefect.yaml: every deployment's entrypoint resolves from the repo root, its parameters
validate against the flow and the profile, and its schedule is a valid cron."""

import importlib
from pathlib import Path

import pytest
import yaml
from prefect import Flow

from korflow.profiles import corpus_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_resolves(deployment):
    path, func = deployment["entrypoint"].split(":")
    assert (ROOT / path).is_file()
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), func)
    assert isinstance(flow, Flow)
    params = deployment.get("parameters", {})
    flow.validate_parameters(params)  # raises on unknown or ill-typed parameters
    corpus_config(params["profile"], params.get("overrides"))
    from prefect.client.schemas.schedules import CronSchedule

    for schedule in deployment["schedules"]:
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_both_profiles_are_scheduled():
    assert {d["parameters"]["profile"] for d in DEPLOYMENTS} == {"quick", "full"}
