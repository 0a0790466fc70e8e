"""Errors that tell the user what went wrong and how to fix it."""


class KoreanNLPError(RuntimeError):
    """Base class: every message says what is missing and how to fix it."""


class TokenizerUnavailable(KoreanNLPError):
    """A tagger's runtime (JVM, MeCab, dictionary) could not be found or started."""


class CorpusFormatError(KoreanNLPError, ValueError):
    """An input file is malformed; the message names the file and the position."""
