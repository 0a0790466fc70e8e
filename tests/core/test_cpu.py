"""The thread budget: heavy jobs take turns on the CPU, across threads and processes, and torch
gets the budget's threads; only GPU trainings ask for the GPU slot."""

import contextvars
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
import torch

from korflow.core import cpu, gpu


@pytest.fixture
def lock(tmp_path, monkeypatch):
    path = tmp_path / "cpu.lock"
    monkeypatch.setattr(cpu, "lock_path", lambda: path)
    monkeypatch.delenv("KORFLOW_CPU_EXCLUSIVE", raising=False)
    return path


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_two_jobs_in_threads_take_turns(lock):
    events: list[str] = []
    release = threading.Event()

    def first():
        with cpu.cpu_turn("first", events.append):
            events.append("first in")
            release.wait(10)
            events.append("first out")

    def second():
        with cpu.cpu_turn("second", events.append):
            events.append("second in")

    a = threading.Thread(target=first)
    a.start()
    _wait_for(lambda: "first in" in events)
    b = threading.Thread(target=second)
    b.start()
    _wait_for(lambda: any("waiting" in e for e in events))
    assert "second in" not in events  # it waits while the first holds the CPU
    release.set()
    a.join(10), b.join(10)
    assert events[0] == "first in" and events[-1] == "second in"
    assert events.index("first out") < events.index("second in")
    assert any(e.startswith("second: got the CPU after") for e in events)


def test_the_turns_taken_are_what_held_the_cpu_and_when(lock):
    with cpu.turns_taken() as turns:
        with cpu.cpu_turn("a", print):
            time.sleep(0.05)
        with cpu.cpu_turn("gpu job", print, exclusive=False):  # no turn taken
            pass
        with pytest.raises(RuntimeError), cpu.cpu_turn("b", print):
            raise RuntimeError("a failed job ends its turn too")
    with cpu.cpu_turn("after", print):
        pass
    assert [job for job, _, _ in turns] == ["a", "b"]
    (_, start_a, end_a), (_, start_b, end_b) = turns
    assert end_a - start_a >= 0.05 and start_a < end_a <= start_b <= end_b


def test_a_job_in_another_process_is_waited_for(lock):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.5)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    said: list[str] = []
    started = time.monotonic()
    with cpu.cpu_turn("training", said.append):
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited > 0.5 and said[0].startswith("training: waiting for the CPU")


def test_overlap_allowed_when_asked(lock, monkeypatch):
    with cpu.cpu_turn("first", print):
        # Not exclusive (a GPU job), or KORFLOW_CPU_EXCLUSIVE=0: no waiting.
        with cpu.cpu_turn("gpu job", pytest.fail, exclusive=False):
            pass
        monkeypatch.setenv("KORFLOW_CPU_EXCLUSIVE", "0")
        with cpu.cpu_turn("second", pytest.fail):
            pass


def test_torch_gets_the_thread_budget(lock, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("KORFLOW_THREADS", "1")
    try:
        with cpu.cpu_turn("job", print) as budget:
            assert budget == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("KORFLOW_THREADS", "0")
    with pytest.raises(ValueError, match="KORFLOW_THREADS='0'"):
        cpu.threads()


def test_a_cpu_training_takes_no_gpu_slot(monkeypatch):
    # auto: only trainings on CUDA ask (pytest.fail: nothing may be said, no server asked).
    monkeypatch.delenv("KORFLOW_GPU_SLOT", raising=False)
    with gpu.gpu_slot("sentiment random", on_gpu=False, log=pytest.fail):
        pass
    monkeypatch.setenv("KORFLOW_GPU_SLOT", "off")
    with gpu.gpu_slot("sentiment random", on_gpu=True, log=pytest.fail):
        pass
    monkeypatch.setenv("KORFLOW_GPU_SLOT", "sometimes")
    with pytest.raises(ValueError, match="KORFLOW_GPU_SLOT='sometimes': use one of auto"):
        gpu.slot_mode()


@pytest.mark.usefixtures("prefect_api")
def test_without_the_limit_a_gpu_training_does_not_wait(monkeypatch):
    # Prefect's ephemeral API has no korflow-gpu limit: the slot is free (the team test shows
    # the limit keeping two trainings apart on a real server).
    monkeypatch.delenv("KORFLOW_GPU_SLOT", raising=False)
    said = []
    with gpu.gpu_slot("seq2seq dot", on_gpu=True, log=said.append):
        pass
    asked, got, back = said
    assert asked == "seq2seq dot: asking for the GPU slot (korflow-gpu)"
    assert re.fullmatch(r"seq2seq dot: got the GPU slot after [0-5] s", got), got
    assert back == "seq2seq dot: gives the GPU slot back"


def _language_model(backward: bool):
    """A tiny LM with every dropout on, built as a training task builds it."""
    from models.lm import LanguageModel, LMConfig
    from models.train import GLOBAL_RNG

    with GLOBAL_RNG:
        torch.manual_seed(0)
        cfg = LMConfig(12, embed_dim=8, hidden_size=16, dropout=0.3, embed_dropout=0.2)
        return LanguageModel(replace(cfg, backward=backward))


def _train(backward: bool) -> tuple[dict, float, float]:
    from models.lm_train import LMTrainConfig, train_lm

    model, started = _language_model(backward), time.monotonic()
    stream = torch.arange(4, 12).repeat(300)
    cfg = LMTrainConfig(epochs=2, batch_size=4, bptt=8, lr=1e-2, seed=0)
    train_lm(model, stream.flip(0) if backward else stream, {"a": stream[:200]}, cfg)
    return model.state_dict(), started, time.monotonic()


def test_jobs_side_by_side_share_one_turn_and_draw_what_they_would_alone(lock, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("KORFLOW_THREADS", "2")
    try:
        torch.set_num_threads(1)
        alone = [_train(backward)[0] for backward in (False, True)]
        with cpu.turns_taken() as turns:
            together = cpu.side_by_side("lm", _train, [False, True], pytest.fail)
    finally:
        torch.set_num_threads(before)
    # One turn for both, each on its half of the budget, the two at once.
    assert [job for job, _, _ in turns] == ["lm"]
    (_, start_a, end_a), (_, start_b, end_b) = together
    assert start_a < end_b and start_b < end_a
    # Their initial weights and dropout masks drawn as alone: the same weights, bit for bit.
    for weights, (shared, _, _) in zip(alone, together, strict=True):
        for key, value in weights.items():
            assert torch.equal(value, shared[key]), key
    assert not torch.equal(alone[0]["embedding.weight"], alone[1]["embedding.weight"])


def test_a_failed_job_side_by_side_lets_the_other_finish_then_raises(lock):
    ended = []

    def work(name: str) -> str:
        with cpu.cpu_turn(name, pytest.fail) as share:  # no turn of its own inside
            if name == "bad":
                raise RuntimeError("bad input")
            time.sleep(0.2)
            ended.append(name)
            return f"{name} on {share}"

    with pytest.raises(RuntimeError, match="bad input"):
        cpu.side_by_side("pair", work, ["bad", "good"], print)
    assert ended == ["good"]
    assert cpu.side_by_side("pair", work, ["a", "b"], print) == [
        f"{n} on {max(1, cpu.threads() // 2)}" for n in "ab"
    ]


# Run in a fresh interpreter: no other test's threads start or end while it counts.
COUNT_THREADS = """
import os, threading, time
import torch
from korflow.core import cpu

def count():  # once threads that ended are gone (the OS reaps them a moment later)
    now, deadline = len(os.listdir("/proc/self/task")), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now, last = len(os.listdir("/proc/self/task")), now
        if now == last:
            break
    return now

def parallel():
    with cpu.torch_threads(2):
        a = torch.randn(256, 256)
        for _ in range(5):
            a = torch.tanh(a @ a)  # parallel regions: this thread's OpenMP team

once = threading.Thread(target=parallel)  # what torch starts once per process
once.start()
once.join()
before = count()
cpu.in_own_thread(parallel)
ended = count()
ran, release = threading.Event(), threading.Event()

def lives_on():
    parallel()
    ran.set()
    release.wait()

kept = threading.Thread(target=lives_on)
kept.start()
ran.wait(30)
print(before, ended, count())
release.set()
kept.join()
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_a_job_in_its_own_thread_takes_its_openmp_team_with_it():
    out = subprocess.run(
        [sys.executable, "-c", COUNT_THREADS], capture_output=True, text=True, check=True
    )
    before, ended, kept = map(int, out.stdout.split())
    assert ended == before  # the job's thread and its OpenMP worker ended with it
    # The same work in a thread that lives on keeps its team: libgomp then manages more
    # threads than cores and every team sleeps between regions (a pipeline's later trainings
    # ran at half speed).
    assert kept >= before + 2  # the thread and its OpenMP worker


def test_in_own_thread_returns_raises_and_runs_in_the_callers_context():
    var = contextvars.ContextVar("var")
    var.set("caller's")
    value, ident = cpu.in_own_thread(lambda: (var.get(), threading.get_ident()))
    assert value == "caller's" and ident != threading.get_ident()
    with pytest.raises(KeyError, match="missing"):
        cpu.in_own_thread(lambda: {}["missing"])


def test_torch_threads_hold_whatever_another_thread_sets_meanwhile():
    # torch sets a thread's OpenMP threads up at its first parallel call from the last value
    # any thread set: a job's setting made before that call would be undone.
    got, inside, go = [], threading.Event(), threading.Event()

    def job():
        with cpu.torch_threads(1):
            inside.set()
            go.wait(30)
            torch.tanh(torch.randn(200_000))
            got.append(torch.get_num_threads())

    before = torch.get_num_threads()
    thread = threading.Thread(target=job)
    thread.start()
    try:
        inside.wait(30)
        torch.set_num_threads(2)
        go.set()
        thread.join()
    finally:
        torch.set_num_threads(before)
    assert got == [1]
