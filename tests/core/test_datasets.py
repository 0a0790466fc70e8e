from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from korflow.core import datasets


def test_shard_round_trip_keeps_stats_and_digest(tmp_path):
    table = pa.table({"text": ["영화", "드라마"]})
    shard = datasets.write_shard(table, tmp_path / "a.parquet", {"dropped": {"empty": 2}})
    again = datasets.load_shard(shard.path)
    assert again == shard and again.stats == {"dropped": {"empty": 2}} and again.rows == 2
    assert shard.read().column("text").to_pylist() == ["영화", "드라마"]


def test_failed_write_leaves_no_file_a_later_run_would_trust(tmp_path, monkeypatch):
    target = tmp_path / "out.parquet"

    def half_write(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        datasets.write_shard(pa.table({"x": [1]}), target)
    assert list(tmp_path.iterdir()) == []


def test_missing_shard_says_to_refresh(tmp_path):
    shard = datasets.write_shard(pa.table({"x": [1]}), tmp_path / "s.parquet")
    (tmp_path / "s.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="--refresh"):
        shard.read()


def test_digest_is_stable_and_sensitive():
    assert datasets.digest_of({"a": 1, "b": [1, 2]}) == datasets.digest_of({"b": [1, 2], "a": 1})
    assert datasets.digest_of({"a": 1}) != datasets.digest_of({"a": 2})


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.bin").write_text("old")
    with (
        pytest.raises(OSError, match="disk full"),
        datasets.atomic_write(target, folder=True) as tmp,
    ):
        (tmp / "new.bin").write_text("half")
        raise OSError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left
    assert [p.name for p in target.iterdir()] == ["old.bin"]
    with datasets.atomic_write(target, folder=True) as tmp:
        (tmp / "new.bin").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.bin"]
