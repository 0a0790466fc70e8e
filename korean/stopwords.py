"""A small default Korean stop-word list: particles, copulas and fillers common in reviews.

Deliberately short (what the wikidocs NSMC tutorial and the seeds use, plus frequent particles):
stop-word removal is an option, and users pass their own list or file for anything else.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_STOPWORDS: frozenset[str] = frozenset(
    {
        "의",
        "가",
        "이",
        "은",
        "들",
        "는",
        "좀",
        "잘",
        "걍",
        "과",
        "도",
        "를",
        "으로",
        "자",
        "에",
        "와",
        "한",
        "하다",
        "을",
        "에서",
        "로",
        "께",
        "에게",
        "한테",
        "이다",
        "있다",
        "되다",
        "것",
        "수",
        "등",
        "및",
        "더",
        "또",
        "그",
        "저",
        "요",
    }
)


def load_stopwords(source: str | Path | None) -> frozenset[str]:
    """None: no stop words; "default": DEFAULT_STOPWORDS; else a file with one word a line."""
    if source is None:
        return frozenset()
    if str(source) == "default":
        return DEFAULT_STOPWORDS
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"stop-word file {path} does not exist")
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))
