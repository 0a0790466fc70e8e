"""The corpus stage's settings and its profiles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from korean.clean import REVIEWS, CleanConfig
from korean.morphemes import TokenizerConfig
from korflow.core.config.stage_settings import StageSettings


class CorpusConfig(StageSettings):
    # Your own labelled reviews ({"train": path, "test": path}) instead of the upstream NSMC
    # files: NSMC's TSV, or a CSV/TSV whose header names these text and label (0/1) columns.
    nsmc_files: dict[Literal["train", "test"], str] = {}
    nsmc_text_column: str = Field("document", min_length=1)
    nsmc_label_column: str = Field("label", min_length=1)
    # Rows kept per NSMC split (the first N, file order); None = all.
    nsmc_train_rows: int | None = Field(None, gt=0)
    nsmc_test_rows: int | None = Field(None, gt=0)
    nsmc_shard_rows: int = Field(50_000, gt=0)
    # Wikipedia: a dump file, a WikiExtractor folder or a URL; None = mirror's kowiki/ or upstream.
    wiki_source: str | None = None
    wiki_max_docs: int | None = Field(None, gt=0)
    wiki_max_mb: float | None = Field(None, gt=0)
    wiki_shard_docs: int = Field(5_000, gt=0)
    # Malformed input rows fail the run instead of being counted and skipped.
    strict: bool = False
    # Wikipedia: the seeds' Hangul-only regex.
    clean: CleanConfig = CleanConfig()
    # NSMC reviews also keep digits, Latin letters, punctuation and emoticons ("10점", "!!",
    # "^^", "OST"): on validation they are worth 1.3 points of sentiment accuracy over the
    # seeds' regex (BENCHMARKS.md, "Sentiment recipe").
    nsmc_clean: CleanConfig = REVIEWS
    drop_empty: bool = True  # drop rows that clean to nothing (never NSMC test rows)
    split_sentences: bool = True  # Wikipedia articles -> one row per sentence
    tokenizer: TokenizerConfig = TokenizerConfig()
    sample_rows: int = Field(20, ge=0)

    PROFILES = {
        "quick": {
            "nsmc_train_rows": 20_000,
            "nsmc_test_rows": 5_000,
            "nsmc_shard_rows": 10_000,
            "wiki_max_docs": 2_000,
            "wiki_shard_docs": 1_000,
        },
        "full": {},
    }
