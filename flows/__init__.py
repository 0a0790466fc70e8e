"""Prefect flows, one per stage (the flow body is the DAG of its tasks), each taking its resolved
settings and returning a typed result (``results.py``); ``pipeline.py`` chains the stages."""
