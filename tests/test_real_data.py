"""On the real data mirror (KORFLOW_DATA_MIRROR; CI always sets it)."""

import pytest

from korean.nsmc import parse_nsmc
from korflow.core import sources
from tests.conftest import store_of
from tests.test_cli import korflow

pytestmark = pytest.mark.data


@pytest.mark.parametrize(("split", "rows", "empty"), [("train", 150_000, 5), ("test", 50_000, 3)])
def test_nsmc_mirror_is_upstream_and_parses_cleanly(mirror, tmp_path, split, rows, empty):
    path, sha = sources.fetch(sources.NSMC[split], mirror, tmp_path)
    assert sha == sources.NSMC[split].sha256
    with open(path, "rb") as f:
        table = parse_nsmc(f, name=str(path), strict=True)
    assert len(table) == rows and not table.skipped
    assert sum(1 for d in table.documents if not d.strip()) == empty
    assert set(table.labels) == {0, 1}


def test_readme_main_job_quick_profile_on_the_mirror(mirror, tmp_path):
    import mlflow

    out = korflow(
        "corpus", "--profile", "quick", "--data-mirror", str(mirror), home=tmp_path, timeout=900
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_id = out.stdout.strip().splitlines()[-1]
    with store_of(tmp_path):
        m = mlflow.get_run(run_id).data.metrics
    assert m["nsmc.train.rows_kept"] == 20_000 and m["nsmc.test.rows_kept"] == 5_000
    dropped = sum(v for k, v in m.items() if k.startswith("nsmc.clean.dropped."))
    assert m["nsmc.clean.rows_out"] + dropped == 25_000
    assert m["wiki.docs"] == 2_000 and m["wiki.tokens"] > 1_000_000
