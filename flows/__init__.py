"""Prefect flows: each chains tasks/ into one stage of the pipeline and tracks it in MLflow."""
