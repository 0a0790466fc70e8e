"""Batch scoring benchmark: ``korflow predict --input`` on the 50,000 reviews of NSMC's test
file, as users run it (a fresh process: model load, read, score, write), with the champion.

    KORFLOW_HOME=... KORFLOW_DATA_MIRROR=... python benchmarks/predict.py [--model URI]

Prints one JSON line: rows, wall seconds, scoring seconds and rows/s (the command's own
figure), and the peak RSS of the command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a pyfunc model URI; default: the champion")
    args = parser.parse_args()
    source = Path(os.environ["KORFLOW_DATA_MIRROR"]) / "nsmc" / "ratings_test.txt"
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "scored.parquet"
        command = [sys.executable, "-m", "app.cli", "predict", "--input", str(source)]
        command += ["--output", str(output), *(["--model", args.model] if args.model else [])]
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        found = re.search(r"scored ([\d,]+) rows in ([\d.]+) s", out.stderr)
        rows, seconds = int(found[1].replace(",", "")), float(found[2])
        model = re.search(r"model: (.*)", out.stderr)
        print(
            json.dumps(
                {
                    "rows": rows,
                    "wall_s": round(wall, 1),
                    "scoring_s": seconds,
                    "rows_per_s": round(rows / seconds),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                    ),
                    "output_mb": round(output.stat().st_size / 1e6, 1),
                    "model": model[1].strip() if model else args.model,
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
