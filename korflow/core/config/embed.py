"""The FastText stage's settings and its profiles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from korean.embeddings import DEFAULT_PARAMS, FastTextParams
from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import EMBED_UNITS, LEVELS


class EmbedConfig(StageSettings):
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage this one reads
    levels: list[Literal[LEVELS]] = list(LEVELS)
    # morpheme: the corpus's tokens (what the sentiment model reads); eojeol: whitespace words
    # of the cleaned text, as Park et al. trained, which the syntactic analogies need.
    units: list[Literal[EMBED_UNITS]] = ["morpheme"]
    include_wiki: bool = True
    # Your own evaluation files ({"ws353": path, "analogy": path}) instead of Park et al.'s.
    eval_files: dict[Literal["ws353", "analogy"], str] = {}
    syllable: FastTextParams = DEFAULT_PARAMS["syllable"]
    jamo: FastTextParams = DEFAULT_PARAMS["jamo"]
    # Analogy answers are searched among the most frequent words (as gensim does); None = all.
    analogy_restrict_vocab: int | None = Field(300_000, gt=0)
    neighbour_words: list[str] = [
        "영화",
        "배우",
        "재밌",
        "최악",
        "감동",
        "서울",
        "대통령",
        "사랑",
        "음식",
        "컴퓨터",
        "재밌었어요",
        "몰랐다",
        "먹었습니다",
    ]
    projection_words: int = Field(300, ge=10)

    # quick trains with one gensim worker: bit-reproducible, so a quick pipeline reproduces
    # exactly; full keeps two (twice the speed), and its runs say they are not exact.
    PROFILES = {
        "quick": {
            "syllable": {"bucket": 200_000, "min_count": 3, "workers": 1},
            "jamo": {"bucket": 200_000, "min_count": 3, "workers": 1},
        },
        "full": {},
    }
