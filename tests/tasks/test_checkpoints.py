"""An interrupted training resumes from its checkpoint, except when the cache is refreshed."""

from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

from tasks.checkpoints import checkpoint_dir, finished


def _interrupted(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"epoch 3 of an earlier, killed run")
    return run


def test_an_interrupted_run_resumes(tmp_path):
    run = _interrupted(tmp_path)
    assert (checkpoint_dir(run) / "last.pt").is_file()
    finished(run)
    assert not (run / "checkpoints").exists()


def test_refresh_never_resumes(tmp_path):
    run = _interrupted(tmp_path)
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):  # what --refresh sets
        folder = checkpoint_dir(run)
    assert not (folder / "last.pt").exists()
