"""Prefect tasks: thin wrappers over korean/ and korflow/ with retries and caching."""
