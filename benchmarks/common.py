"""What the benchmark scripts share: peak memory, and running each job in a fresh process."""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def peak_mb() -> int:
    """This process's peak RSS in MB (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_jobs(script: str, jobs: list[list[str]]) -> list[dict]:
    """Run ``script JOB...`` for each job in a fresh process (so timings and peak RSS are its
    own); each prints one JSON line last. A failed job's error is shown and the rest go on."""
    rows = []
    for job in jobs:
        out = subprocess.run([sys.executable, script, *job], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr, flush=True)
    return rows
