"""The names a user types: profiles, stages and each stage's variants, declared once for the
settings (``korflow.core.config``) and the command line (its choices and completion). Free of
imports but the stages' own declaration, so that ``korflow`` offers them without loading
torch."""

from korflow.core.stages import STAGES

PROFILES = ("quick", "full")
LEVELS = ("syllable", "jamo")  # FastText: one model a level
EMBED_UNITS = ("morpheme", "eojeol")  # the tokens FastText reads
LM_UNITS = ("morpheme", "syllable")
EMBEDDINGS = ("random", "syllable", "jamo", "lm")  # the sentiment model's start
ATTENTIONS = ("none", "dot", "general", "additive", "refine")  # the chatbot's variants

__all__ = ["PROFILES", "STAGES", "LEVELS", "EMBED_UNITS", "LM_UNITS", "EMBEDDINGS", "ATTENTIONS"]
