"""The old name of ``korflow.serving.sentiment_predictor``. Models registered before the layers
were split name their PythonModel ``korflow.sentiment:SentimentPyfunc``; in a process that has
already imported korflow (``korflow predict``), that name resolves here, so they still load."""

from korflow.serving.sentiment_predictor import (  # noqa: F401
    LABELS,
    SentimentPredictor,
    SentimentPyfunc,
)
