"""Serve prefect.yaml's scheduled deployments from one process, with no server started by hand.

Prefect cannot schedule on its ephemeral API, so ``korflow serve`` starts a local Prefect
server (its database under KORFLOW_HOME/prefect), waits for it, serves every deployment in
prefect.yaml with its cron schedule and parameters (``prefect.serve``), and stops the server
when it is stopped. Teams run a Prefect server and workers instead (see the README).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from korflow.core import settings
from korflow.core.imports import sys_path_kept

PREFECT_YAML = settings.PROJECT_ROOT / "prefect.yaml"


def load_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def build(path: Path = PREFECT_YAML, names: list[str] | None = None) -> list:
    """prefect.yaml's deployments as RunnerDeployments: flow, parameters, cron schedules."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    out = []
    for spec in load_deployments(path):
        if names and spec["name"] not in names:
            continue
        file, func = spec["entrypoint"].split(":")
        with sys_path_kept():
            flow = load_flow_from_entrypoint(f"{settings.PROJECT_ROOT / file}:{func}")
        out.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                parameters=spec.get("parameters", {}),
                schedules=[
                    Cron(s["cron"], timezone=s.get("timezone", "UTC"))
                    for s in spec.get("schedules", [])
                ],
                tags=["korflow"],
            )
        )
    if names and len(out) != len(names):
        known = [d["name"] for d in load_deployments(path)]
        raise ValueError(f"unknown deployment(s) in {names}; prefect.yaml has {known}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(port: int = 4200, timeout: float = 120.0):
    """A Prefect server on 127.0.0.1:port for the duration of the block; yields its API URL."""
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(settings.home() / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true"),
        # The UI asks /ui-settings where the API is; Prefect answers port 4200 whatever port
        # the server listens on, unless told (a user's own value, e.g. behind a proxy, stays).
        "PREFECT_UI_API_URL": os.environ.get("PREFECT_UI_API_URL", url),
    }
    env.pop("PREFECT_API_URL", None)
    log = open(settings.home() / "prefect-server.log", "ab")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the Prefect server exited ({server.returncode}); see "
                    f"{settings.home() / 'prefect-server.log'}"
                )
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Prefect server did not answer on {url} in {timeout} s")
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
