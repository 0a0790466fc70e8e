"""How a failure reads at the user's edge: one line that names the thing and the fix."""

from __future__ import annotations

import signal

from .secrets import redact

ERROR_TAG = "korflow.error"  # the same line on the FAILED MLflow run


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its message (a multi-line one joined with "; "), and its type
    when the message alone does not say what went wrong."""
    number = getattr(exc, "signal", None)  # Prefect's TerminationSignal: SIGTERM during a flow
    if isinstance(number, int):
        return f"stopped by {signal.Signals(number).name}"
    if isinstance(exc, KeyboardInterrupt):
        return f"stopped by {exc}" if str(exc) else "interrupted (Ctrl-C)"
    parts = [part.strip() for part in str(exc).splitlines() if part.strip()]
    text = "; ".join(parts).replace(":; ", ": ")  # "invalid X:\n  a: ..." -> "invalid X: a: ..."
    if not text or isinstance(exc, (KeyError, AttributeError)):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return redact(text)
