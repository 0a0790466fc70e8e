"""Hangul regex cleaning, as the seed notebooks do it, with the options users expect.

The seeds remove everything that is not a Hangul syllable, a compatibility jamo or a space:
``re.sub("[^ㄱ-ㅎㅏ-ㅣ가-힣 ]", "", text)``. ``CleanConfig()`` reproduces that, plus whitespace
collapsing; the other options widen what is kept or normalise before the regex.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

HANGUL_CLASS = "ㄱ-ㅎㅏ-ㅣ가-힣"
# Punctuation and emoticon characters that carry sentiment in reviews ("!!", "?", "^^", "♥", "..").
SYMBOLS = ".,!?~^;:'\"()[]<>/+-*=%&@#…·♡♥★☆"
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class CleanConfig:
    normalize: Literal["NFC", "NFKC", "none"] = "NFC"
    keep_digits: bool = False
    keep_latin: bool = False
    keep_symbols: bool = False  # the characters of SYMBOLS
    # Runs of one character longer than this are cut to this length (ㅋㅋㅋㅋㅋ -> ㅋㅋ); 0 = off.
    max_repeat: int = 2
    collapse_whitespace: bool = True
    lowercase: bool = False
    # The seeds delete what the regex rejects ("흠...포스터" -> "흠포스터"); True puts a space.
    removed_to_space: bool = False

    def __post_init__(self) -> None:
        if self.normalize not in ("NFC", "NFKC", "none"):
            raise ValueError(f"normalize must be NFC, NFKC or none, not {self.normalize!r}")
        if self.max_repeat < 0:
            raise ValueError(f"max_repeat must be >= 0, not {self.max_repeat}")


# What NSMC reviews keep (the corpus stage's nsmc_clean): sentiment lives in digits, Latin
# letters, punctuation and emoticons too ("10점", "OST", "!!", "^^").
REVIEWS = CleanConfig(keep_digits=True, keep_latin=True, keep_symbols=True, removed_to_space=True)


class Cleaner:
    """A compiled ``CleanConfig``: call it on a string to get the cleaned string."""

    def __init__(self, config: CleanConfig | None = None) -> None:
        self.config = config or CleanConfig()
        kept = HANGUL_CLASS + " "
        if self.config.keep_digits:
            kept += "0-9"
        if self.config.keep_latin:
            kept += "A-Za-z"
        if self.config.keep_symbols:
            kept += re.escape(SYMBOLS)
        self._drop = re.compile(f"[^{kept}]")
        n = self.config.max_repeat
        # Digits are never squeezed: 1000원 must stay 1000원.
        self._repeat = re.compile(rf"([^0-9])\1{{{n},}}") if n else None

    def __call__(self, text: str | None) -> str:
        if not text:
            return ""
        cfg = self.config
        if cfg.normalize != "none":
            text = unicodedata.normalize(cfg.normalize, text)
        # Tabs and newlines become spaces first so that words on either side stay apart.
        text = _WS.sub(" ", text)
        text = self._drop.sub(" " if cfg.removed_to_space else "", text)
        if self._repeat is not None:
            text = self._repeat.sub(lambda m: m.group(1) * cfg.max_repeat, text)
        if cfg.lowercase:
            text = text.lower()
        if cfg.collapse_whitespace:
            text = _WS.sub(" ", text).strip()
        return text


def clean_text(text: str | None, config: CleanConfig | None = None) -> str:
    """Clean one string; for many strings build a ``Cleaner`` once and reuse it."""
    return Cleaner(config)(text)


_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


def split_sentences(text: str) -> list[str]:
    """Split running text (a Wikipedia article) into lines and sentences before cleaning.

    Cleaning removes the punctuation, so sentence boundaries must be found first. Lines are
    paragraphs in both WikiExtractor output and stripped wikitext.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.extend(s for s in _SENTENCE_END.split(line) if s)
    return out
