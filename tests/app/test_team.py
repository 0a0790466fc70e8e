"""The team set-up of the README ("Scale-out and team set-up"), end to end with real processes on
127.0.0.1, nothing mocked: an MLflow tracking server with proxied artifacts, a Prefect server, the
``korflow`` process work pool with prefect.yaml deployed and a worker in its own folder, the
registry and ``korflow predict`` from a client in another folder, a Dask scheduler with two
worker processes, and the ``korflow-gpu`` slot that keeps GPU trainings from overlapping.

Each step runs the README's command (with ports and folders of its own); the small inputs keep
it to a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from app.serve import free_port
from tests.helpers import corpus_overrides, pipeline_overrides, stop_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]  # the project
BIN = Path(sys.executable).parent  # the venv's prefect, mlflow, dask and korflow


class Team:
    """The processes of one team set-up, their URLs and folders."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.mlflow_port, self.prefect_port = str(free_port()), str(free_port())
        self.tracking = f"http://127.0.0.1:{self.mlflow_port}"
        self.api = f"http://127.0.0.1:{self.prefect_port}/api"

    def env(self, home: str, **extra: str) -> dict[str, str]:
        """A machine's environment: its own Prefect home and korflow home, the team's servers."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "MLFLOW_", "KORFLOW_", "DASK_"))
        }
        (self.root / home).mkdir(exist_ok=True)
        return {
            **base,
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(self.root / home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "MLFLOW_TRACKING_URI": self.tracking,
            "KORFLOW_HOME": str(self.root / home / "korflow-home"),
            "KORFLOW_PROGRESS": "0",
            **extra,
        }

    def start(self, name: str, args: list[str], env: dict, cwd: Path | None = None):
        cwd = cwd or self.root / name
        cwd.mkdir(exist_ok=True)
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - the process holds it
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        proc.name = name
        self.procs.append(proc)
        return proc

    def wait_for(self, url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"{proc.name} exited: {self.log(proc.name)}"
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"{proc.name} did not answer on {url}: {self.log(proc.name)}")

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]

    def run(self, args: list[str], env: dict, cwd: Path | None = None, timeout: float = 600):
        done = subprocess.run(
            args, cwd=cwd or self.root, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                stop_group(proc, signal.SIGTERM, 30)


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """The servers and the worker, as the README starts them; stopped after the module."""
    team = Team(tmp_path_factory.mktemp("team"))
    store = team.root / "mlflow"
    server_env = team.env("servers")
    try:
        mlflow_server = team.start(
            "mlflow",
            [
                "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
                "--artifacts-destination", str(store / "artifacts"),
                "--serve-artifacts",
                "--host", "127.0.0.1", "--port", team.mlflow_port,
                "--workers", "1",
            ],
            server_env,
        )  # fmt: skip
        quiet = {  # no UI, and no scheduled runs of prefect.yaml's crons while the test runs
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        }
        prefect_server = team.start(
            "prefect-server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", team.prefect_port],
            {**server_env, **quiet},
        )
        team.wait_for(f"{team.tracking}/health", mlflow_server)
        team.wait_for(f"{team.api}/health", prefect_server)
        admin = team.env("admin", KORFLOW_REPO=str(ROOT))
        team.run(["prefect", "work-pool", "create", "korflow", "--type", "process"], admin)
        team.run(["prefect", "--no-prompt", "deploy", "--all"], admin, cwd=ROOT)
        team.run(["prefect", "gcl", "create", "korflow-gpu", "--limit", "1"], admin)
        # The worker's machine trains as a GPU machine would take turns (KORFLOW_GPU_SLOT=always)
        # and lets its CPU jobs overlap, so that only the GPU slot can keep two trainings apart.
        worker_env = team.env(
            "worker",
            KORFLOW_GPU_SLOT="always",
            KORFLOW_CPU_EXCLUSIVE="0",
            PREFECT_WORKER_QUERY_SECONDS="2",
        )
        team.worker = team.start(
            "worker", ["prefect", "worker", "start", "--pool", "korflow"], worker_env
        )
        team.admin = admin
        yield team
    finally:
        team.stop()


def deployment_run(team: Team, name: str, overrides: dict) -> str:
    """``prefect deployment run NAME`` with the overrides; the new flow run's id."""
    out = team.run(
        ["prefect", "deployment", "run", name, "--params", json.dumps({"overrides": overrides})],
        team.admin,
    )
    return next(line.split()[-1] for line in out.splitlines() if "UUID" in line)


def wait_final(team: Team, flow_run_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = requests.get(f"{team.api}/flow_runs/{flow_run_id}", timeout=10).json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        assert team.worker.poll() is None, f"the worker exited: {team.log('worker')}"
        time.sleep(2)
    raise TimeoutError(f"flow run {flow_run_id} not final in {timeout} s: {team.log('worker')}")


def logs(team: Team, contains: str) -> list[tuple[datetime, str]]:
    """Every log line of every flow run on the server that contains ``contains``."""
    found = requests.post(
        f"{team.api}/logs/filter", json={"sort": "TIMESTAMP_ASC", "limit": 200}, timeout=10
    ).json()
    return [
        (datetime.fromisoformat(r["timestamp"]), r["message"])
        for r in found
        if contains in r["message"]
    ]


def test_a_worker_runs_the_corpus_deployment_into_the_tracking_server(team, inputs):
    flow_run = deployment_run(team, "korflow-corpus/corpus-quick", corpus_overrides(inputs))
    run = wait_final(team, flow_run)
    assert run["state"]["type"] == "COMPLETED", team.log("worker")
    runs = requests.post(
        f"{team.tracking}/api/2.0/mlflow/runs/search",
        json={
            "experiment_ids": [experiment_id(team)],
            "filter": f"tags.`korflow.prefect_flow_run_id` = '{flow_run}'",
        },
        timeout=10,
    ).json()["runs"]
    assert [tag(r, "korflow.stage") for r in runs] == ["corpus"]
    assert tag(runs[0], "korflow.profile") == "quick"
    # Artifacts went through the server into its store, not to a path on the worker's machine.
    assert runs[0]["info"]["artifact_uri"].startswith("mlflow-artifacts:")
    assert list((team.root / "mlflow" / "artifacts").rglob("resolved.json"))
    assert not list((team.root / "worker").rglob("mlruns"))


def test_gpu_trainings_take_turns_on_the_slot(team, inputs):
    """A small quick pipeline through the worker: its sentiment and seq2seq trainings start side
    by side and, with one ``korflow-gpu`` slot, train one after the other."""
    # Hold the one slot until both trainings are asking for it: they would overlap without it.
    team.run(["prefect", "gcl", "update", "korflow-gpu", "--active-slots", "1"], team.admin)
    small = pipeline_overrides(inputs)  # the pipeline tests' small settings
    flow_run = deployment_run(
        team,
        "korflow-pipeline/pipeline-quick",
        {
            "stages": ["corpus", "sentiment", "seq2seq"],
            "corpus": small["corpus"],
            "sentiment": {**small["sentiment"], "embeddings": ["random"]},
            "seq2seq": small["seq2seq"],
        },
    )
    deadline = time.monotonic() + 300
    while len(logs(team, "asking for the GPU slot")) < 2:
        assert time.monotonic() < deadline, f"trainings never asked: {team.log('worker')}"
        time.sleep(2)
    assert not logs(team, "got the GPU slot")
    team.run(["prefect", "gcl", "update", "korflow-gpu", "--active-slots", "0"], team.admin)
    run = wait_final(team, flow_run)
    assert run["state"]["type"] == "COMPLETED", team.log("worker")

    held = {}
    for when, message in logs(team, "GPU slot"):
        job = message.split(":")[0]
        if "got the GPU slot" in message:
            held[job] = [when, None]
        elif "gives the GPU slot back" in message:
            held[job][1] = when
    assert sorted(held) == ["sentiment random", "seq2seq dot"]
    (a_start, a_end), (b_start, b_end) = sorted(held.values())
    assert a_end <= b_start, f"the trainings overlapped: {held}"
    limit = requests.get(f"{team.api}/v2/concurrency_limits/korflow-gpu", timeout=10).json()
    assert limit["active_slots"] == 0  # given back


def test_a_client_elsewhere_finds_the_runs_and_serves_the_registered_model(team, inputs):
    """After the pipeline above: a client in another folder, with only the tracking URI."""
    client = team.root / "client"
    client.mkdir(exist_ok=True)
    env = team.env("client")
    script = """
import json, pathlib, mlflow, pandas as pd
runs = mlflow.search_runs(experiment_names=["korflow"], output_format="list")
stages = sorted({r.data.tags["korflow.stage"] for r in runs})
sentiment = next(r for r in runs if r.data.tags["korflow.stage"] == "sentiment")
run_id = sentiment.info.run_id
got = pathlib.Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path="got"))
model = mlflow.pyfunc.load_model("models:/korflow-sentiment@champion-quick")
scores = model.predict(pd.DataFrame({"document": ["정말 재밌어요 최고", "시간 아까운 영화"]}))
print(json.dumps({
    "stages": stages,
    "metrics": sorted(sentiment.data.metrics),
    "downloaded": sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file()),
    "labels": scores["label"].tolist(),
}))
"""
    found = json.loads(team.run([sys.executable, "-c", script], env, cwd=client).splitlines()[-1])
    assert found["stages"] == ["corpus", "pipeline", "sentiment", "seq2seq"]
    assert {"test_accuracy", "val_accuracy"} <= set(found["metrics"])
    assert "config/resolved.json" in found["downloaded"]
    assert "learning_curve.png" in found["downloaded"]  # through the server's proxy
    assert set(found["labels"]) <= {0, 1} and len(found["labels"]) == 2
    predicted = team.run(
        ["korflow", "predict", "--json", "--model", "models:/korflow-sentiment@champion-quick",
         "정말 재밌어요 최고"],
        env,
        cwd=client,
    )  # fmt: skip
    row = json.loads(predicted.strip().splitlines()[-1])
    assert row["label"] in (0, 1) and 0.0 <= row["probability"] <= 1.0
    assert not (client / "mlruns").exists()


def test_the_corpus_map_runs_on_a_dask_cluster_of_separate_processes(team, inputs):
    """``dask scheduler`` and two ``dask worker`` processes; the corpus stage on them gives what
    the thread runner gives."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    # The workers see the same KORFLOW_HOME as the command (the data paths are visible).
    dask_env = team.env("dask")
    scheduler = team.start(
        "dask-scheduler",
        ["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
        dask_env,
    )  # fmt: skip
    for n in (1, 2):
        team.start(
            f"dask-worker-{n}",
            ["dask", "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{n}"],
            dask_env,
        )
    with Client(address, timeout=120) as client:
        client.wait_for_workers(2, timeout=180)
        sets = [
            f"--set={key}={value}"
            for key, value in {
                "nsmc_files.train": inputs / "nsmc-train.txt",
                "nsmc_files.test": inputs / "nsmc-test.txt",
                "wiki_source": inputs / "kowiki.xml.bz2",
            }.items()
        ]
        corpus = ["korflow", "corpus", "--profile", "quick", *sets]
        team.run([*corpus, "--task-runner", address], dask_env)
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert scheduler.poll() is None
    # The clean and tokenize tasks of the NSMC and Wikipedia shards ran on the two workers.
    assert sum(executed.values()) >= 4, executed
    thread_env = team.env("threads")
    team.run(corpus, thread_env)
    assert shards(dask_env) == shards(thread_env)
    assert shards(dask_env)  # something to compare


def shards(env: dict) -> dict[str, str]:
    """The corpus stage's shards (ingested, cleaned, tokenized; vocabularies) under a korflow
    home: relative path (named by its content's digest) -> sha256 of the file."""
    import hashlib

    root = Path(env["KORFLOW_HOME"]) / "corpus"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.suffix == ".parquet"
    }


def experiment_id(team: Team) -> str:
    got = requests.get(
        f"{team.tracking}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "korflow"},
        timeout=10,
    )
    return got.json()["experiment"]["experiment_id"]


def tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["data"]["tags"] if t["key"] == key), None)
