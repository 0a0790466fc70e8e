"""The application on top of the flows: the ``korflow`` command line (``cli.py``), serving the
schedules of prefect.yaml (``serve.py``), re-running a past run (``reproduce.py``) and batch
scoring files (``scoring.py``)."""
