"""Each stage's settings, validated by pydantic, in named parameter sets (``quick``, ``full``):
a module a stage with its schema and its profiles (``corpus.py`` … ``pipeline.py``), the
``--set`` overrides (``overrides.py``) and their resolution into the settings a flow runs on
(``resolve.py``)."""
