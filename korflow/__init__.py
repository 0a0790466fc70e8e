"""korflow: Korean NLP workflows on Prefect and MLflow. The code is layered by height, and each
layer imports only the ones below it (``tests/core/test_layers.py`` walks the imports to keep it
so):

1. ``korean/`` and ``models/``: pure libraries (Korean text; PyTorch models and training loops).
2. ``korflow.core``: the shared core: settings and profiles, sources and datasets, MLflow tracking
   and the model registry.
3. ``korflow.serving``: what a registered model ships: predictors, pyfunc wrappers, model folders
   (no Prefect, no CLI).
4. ``tasks/``: Prefect tasks (caching, retries, the CPU turn) over the layers below.
5. ``flows/``: Prefect flows, one per stage; ``flows/pipeline.py`` chains them.
6. ``app/``: the application: the ``korflow`` CLI, ``korflow serve``, reproduction (a top-level
   folder, so that ``korflow/`` holds only the layers below the tasks).
"""

__version__ = "0.1.0"
