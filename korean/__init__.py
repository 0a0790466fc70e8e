"""Pure Korean text processing: cleaning, jamo, morphemes, corpus readers.

Nothing here imports Prefect or MLflow, so it can be used (and tested) on its own.
"""
