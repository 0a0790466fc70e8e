"""The application, the top layer: the ``korflow`` command line (``cli.py``, its commands by
what they do in ``stage_commands.py``, ``run_commands.py`` and ``model_commands.py``), serving
the schedules of prefect.yaml (``serve.py``), re-running a past run (``reproduce.py``) and
batch scoring files (``scoring.py``). It imports the flows; nothing imports it."""
