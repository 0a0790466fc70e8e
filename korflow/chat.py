"""The old name of ``korflow.serving.chat_predictor``. Models registered before the layers were
split name their PythonModel ``korflow.chat:ChatPyfunc``; in a process that has already
imported korflow (``korflow chat``), that name resolves here, so they still load."""

from korflow.serving.chat_predictor import ChatPredictor, ChatPyfunc  # noqa: F401
