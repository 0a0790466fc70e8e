"""Clean crashes, with real processes: a killed run does not stay RUNNING, SIGTERM is honoured
within seconds and takes the temporary Prefect server with it, and a server orphaned by kill -9
is stopped by the next korflow start."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from korflow.core import crash, tracking
from tests.helpers import CLI, FIXTURES

# A korflow-like command: the CLI's start-up, then a flow whose task (a stand-in for a training
# in a worker thread) outlives the main thread, on Prefect's temporary server.
HANGING_FLOW = """
import sys, time
from app import console
console.prepare()
from prefect import flow, task
from korflow.core import crash
crash.handle_sigterm()  # as korflow's commands do once the flows are imported

@task
def train():
    time.sleep(300)

@flow
def hang():
    future = train.submit()
    print("started", flush=True)
    future.wait()

hang()
"""

STAGE_RUN = """
import time
from pathlib import Path
from korflow.core import tracking
with tracking.stage_run("corpus", "quick", {"a": 1}) as run:
    print(run.info.run_id, flush=True)
    time.sleep(300)
"""


def _start(code: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # a temporary server
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )


def _server_of(proc: subprocess.Popen) -> int:
    servers = [
        pid
        for pid in crash.children(proc.pid)
        if "prefect.server.api.server" in Path(f"/proc/{pid}/cmdline").read_text()
    ]
    assert len(servers) == 1, servers
    return servers[0]


def test_a_run_of_a_killed_process_ends_failed():
    experiment = tracking.setup()  # (its once-a-process sweep runs now, before the kill)
    proc = _start(STAGE_RUN)
    run_id = proc.stdout.readline().strip()
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # A run of this live process stays RUNNING; the killed process's run is closed.
    live = mlflow.MlflowClient().create_run(experiment, tags=crash.owner_tags())
    closed = tracking.close_orphaned_runs(experiment)
    assert run_id in closed and live.info.run_id not in closed
    run = mlflow.get_run(run_id)
    assert run.info.status == "FAILED"
    assert "ended without closing" in run.data.tags["korflow.failure"]
    assert mlflow.get_run(live.info.run_id).info.status == "RUNNING"
    mlflow.MlflowClient().set_terminated(live.info.run_id)


@pytest.mark.slow
def test_sigterm_is_honoured_within_seconds_and_stops_the_server():
    proc = _start(HANGING_FLOW)
    assert proc.stdout.readline().strip() == "started"
    server = _server_of(proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    assert time.monotonic() - sent < crash.GRACE_SECONDS + 5 and code != 0
    deadline = time.monotonic() + 10
    while crash.alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not crash.alive(server), "the temporary Prefect server outlived its korflow"


def _watcher_of(proc: subprocess.Popen) -> int:
    [watcher] = [
        int(p.name)
        for p in Path("/proc").glob("[0-9]*")
        if _cmdline(p) == [sys.executable, "-m", "korflow.core.crash", str(proc.pid)]
    ]
    return watcher


def _cmdline(proc: Path) -> list[str]:
    try:
        return proc.joinpath("cmdline").read_text().split("\0")[:-1]
    except OSError:
        return []


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while crash.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not crash.alive(pid)


@pytest.mark.slow
def test_kill_9_leaves_no_server_behind():
    proc = _start(HANGING_FLOW)
    assert proc.stdout.readline().strip() == "started"
    server = _server_of(proc)
    proc.send_signal(signal.SIGKILL)  # nothing in the killed process can stop its server ...
    proc.wait(10)
    assert _gone_within(server, 10), "the watcher did not stop the orphaned server"


@pytest.mark.slow
def test_a_server_that_outlived_its_watcher_is_stopped_by_the_next_start():
    proc = _start(HANGING_FLOW)
    assert proc.stdout.readline().strip() == "started"
    server = _server_of(proc)
    os.kill(_watcher_of(proc), signal.SIGKILL)  # the whole lot killed (the OOM killer, say)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert crash.alive(server)
    assert server in crash.orphaned_servers()
    crash.stop(crash.orphaned_servers())  # ... what the next korflow command does first
    assert not crash.alive(server)


@pytest.mark.slow
def test_a_training_stopped_by_sigterm_keeps_the_epochs_it_reached(tmp_path):
    # `korflow sentiment` on the small inputs, with more epochs than it will ever reach.
    dump = tmp_path / "kowiki.xml"
    dump.write_bytes((FIXTURES / "kowiki-tiny.xml").read_bytes())
    sets = {
        "corpus.nsmc_files.train": FIXTURES / "nsmc-train.txt",
        "corpus.nsmc_files.test": FIXTURES / "nsmc-test.txt",
        "corpus.wiki_source": dump,
        "model.embed_dim": 8,
        "model.hidden_size": 8,
        "train.epochs": 1_000_000,
        "train.patience": 1_000_000,
        "train.batch_size": 2,
        "min_freq": 1,
        "val_fraction": 0.2,
    }
    args = [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]
    unset = ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env |= {"KORFLOW_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.Popen(
        [*CLI, "sentiment", "--embedding", "random", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stderr:  # until the third epoch has ended
        if "random epoch 3/" in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.stderr.read()
    assert proc.wait(60) != 0
    store = f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=store)
    [run] = client.search_runs(
        [client.get_experiment_by_name("korflow").experiment_id],
        "tags.`korflow.stage` = 'sentiment'",
    )
    assert run.info.status == "FAILED"
    assert "SIGTERM" in run.data.tags["korflow.error"]
    reached = client.get_metric_history(run.info.run_id, "epoch_train_loss")
    assert len(reached) >= 3 and sorted(m.step for m in reached)[:3] == [1, 2, 3]
