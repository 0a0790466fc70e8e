"""Prefect tasks, one file per stage: caching, retries, the CPU turn and paths around the pure
libraries below (``korean/``, ``models/``) and the shared core (``korflow.core``)."""
