"""The names a user types: profiles, stages and each stage's variants, declared once for the
settings (``profiles.py``) and the command line (its choices and completion). Free of imports,
so that ``korflow`` offers them without loading torch."""

PROFILES = ("quick", "full")
STAGES = ("corpus", "embed", "lm", "sentiment", "seq2seq")
LEVELS = ("syllable", "jamo")  # FastText: one model a level
EMBED_UNITS = ("morpheme", "eojeol")  # the tokens FastText reads
LM_UNITS = ("morpheme", "syllable")
EMBEDDINGS = ("random", "syllable", "jamo", "lm")  # the sentiment model's start
ATTENTIONS = ("none", "dot", "general", "additive", "refine")  # the chatbot's variants
