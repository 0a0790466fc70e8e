"""The shared core under tasks, flows and the CLI: settings and profiles (the resolved stage
configs), sources and datasets (files, digests, atomic writes), MLflow tracking, the model
registry and run comparison. Imports only ``korean/`` and ``models/`` from the project."""
