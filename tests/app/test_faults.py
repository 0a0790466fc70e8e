"""Issue 21's faults, each against the real CLI in its own home: credentials in a URL reach
no log, param, artifact or Prefect database; a tracking store that cannot be used is said in
one line before any work; first runs together on a fresh home do not race; outputs follow the
user's umask and the CPU turn is the user's own."""

from __future__ import annotations

import base64
import functools
import os
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

from tests.helpers import CLI, FIXTURES, korflow

SECRET = "s3cr3t-Pw9"


def _corpus_args(*extra: str) -> list[str]:
    return [
        "corpus",
        "--profile",
        "quick",
        "--set",
        f"nsmc_files.train={FIXTURES / 'nsmc-train.txt'}",
        "--set",
        f"nsmc_files.test={FIXTURES / 'nsmc-test.txt'}",
        *extra,
    ]


@pytest.fixture
def served_dump(inputs):
    """The tiny dump on a loopback HTTP server that records each request's Authorization."""
    seen: list[str] = []

    class Recording(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_head(self):
            seen.append(self.headers.get("Authorization", ""))
            return super().send_head()

    handler = functools.partial(Recording, directory=str(inputs))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}/kowiki.xml.bz2", seen
    httpd.shutdown()


def test_a_password_in_a_url_is_used_and_never_stored(served_dump, tmp_path):
    address, seen = served_dump
    home = tmp_path / "home"
    out = korflow(*_corpus_args("--wiki-source", f"http://reader:{SECRET}@{address}"), home=home)
    assert out.returncode == 0, out.stderr[-3000:]
    basic = "Basic " + base64.b64encode(f"reader:{SECRET}".encode()).decode()
    assert seen and set(seen) == {basic}  # every request carried it, as a header
    assert SECRET not in out.stdout + out.stderr
    assert f"http://reader:***@{address}" in (home / "mlflow.db").read_bytes().decode("latin-1")
    # Nowhere in the home: MLflow's store and artifacts, Prefect's database and results.
    stored = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "prefect.db" for p in stored)
    assert [p for p in stored if SECRET.encode() in p.read_bytes()] == []


def test_an_unreachable_tracking_server_is_one_line_in_seconds(tmp_path):
    out = korflow(
        *_corpus_args(),
        home=tmp_path / "home",
        env={"MLFLOW_TRACKING_URI": f"http://tracker:{SECRET}@127.0.0.1:1"},
        timeout=60,  # MLflow's own retries would take about five minutes
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: MLflow tracking server http://tracker:***@127.0.0.1:1 ")
    assert "does not answer" in last and SECRET not in out.stderr
    assert "Traceback" not in out.stderr


def test_a_store_that_cannot_be_written_is_one_line_before_any_work(tmp_path):
    home = tmp_path / "home"
    korflow("compare", home=home)  # finds no runs, but creates the store
    store = home / "mlflow.db"
    assert store.is_file()
    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported on this filesystem: no read-only store to test")
    try:
        out = korflow(*_corpus_args(), home=home, timeout=120)
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: MLflow store {store} cannot be written (attempt to write a")
    assert "Traceback" not in out.stderr and "INSERT INTO" not in out.stderr
    assert not (home / "corpus").exists()  # no work started


def test_first_runs_together_on_a_fresh_home_do_not_race(inputs, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "KORFLOW_HOME": str(home), "KORFLOW_PROGRESS": "0"}
    for key in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(key, None)  # korflow's defaults: Prefect's database under the home
    runs = [
        subprocess.Popen(
            [
                *CLI,
                *_corpus_args("--wiki-source", str(inputs / "kowiki.xml.bz2")),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [run.communicate(timeout=600) for run in runs]
    for run, (_, stderr) in zip(runs, outs, strict=True):
        assert run.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr and "OperationalError" not in stderr
    assert (home / "prefect" / "prefect.db").is_file()  # the home's own Prefect database


def test_outputs_follow_the_umask_and_the_cpu_turn_is_the_users(tmp_path):
    from korflow.core import cpu
    from korflow.core.datasets import write_shard

    table = pa.table({"x": [1, 2]})
    previous = os.umask(0o022)
    try:
        shared = write_shard(table, tmp_path / "shared.parquet")
        os.umask(0o077)
        private = write_shard(table, tmp_path / "private.parquet")
    finally:
        os.umask(previous)
    assert Path(shared.path).stat().st_mode & 0o777 == 0o644
    assert Path(private.path).stat().st_mode & 0o777 == 0o600
    from korflow.core.datasets import atomic_write

    previous = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "model", folder=True) as folder:
            (folder / "weights").write_bytes(b"w")
    finally:
        os.umask(previous)
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
    assert cpu.lock_path().name == f"korflow-cpu-{os.getuid()}.lock"


def test_credentials_are_masked_kept_aside_and_refused_when_lost():
    from korflow.core import secrets

    given = f"https://reader:{SECRET}@dumps.example/x.xml.bz2?token=T0k&lang=ko"
    masked = secrets.hide({"wiki_source": given, "other": "plain"})
    assert masked == {
        "wiki_source": "https://reader:***@dumps.example/x.xml.bz2?token=***&lang=ko",
        "other": "plain",
    }
    url, auth = secrets.credentials(masked["wiki_source"])
    assert url == "https://dumps.example/x.xml.bz2?token=T0k&lang=ko" and auth == ("reader", SECRET)
    assert secrets.redact(f"failed: {given}") == f"failed: {masked['wiki_source']}"
    # A masked URL whose credentials this process never saw (korflow reproduce) is refused.
    with pytest.raises(PermissionError, match=r"reader:\*\*\*@.*give the full URL again"):
        secrets.credentials("https://reader:***@dumps.example/y.xml.bz2")


def test_a_tsv_review_may_open_a_quote_it_never_closes():
    from korean.nsmc import parse_reviews

    lines = [line.encode() for line in ("label\tdocument\n", '1\t"최고의 영화\n', "0\t별로\n")]
    table = parse_reviews(lines, "mine.tsv")
    assert table.documents == ['"최고의 영화', "별로"] and table.labels == [1, 0]
