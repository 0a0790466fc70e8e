"""The commands that use a trained model or the text tools: ``chat``, ``generate``,
``predict`` (reviews or a file), ``similar`` (FastText neighbours) and ``tokenize``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from app.console import console, fail, prepare
from app.options import MODEL_FLAGS, model_help
from korean.morphemes import BACKENDS
from korflow.core.names import EMBED_UNITS, LEVELS
from korflow.core.stages import SPEC

commands = typer.Typer()


def _load(uri: str | None, registered: str, trainer: str):
    """A pyfunc model: ``uri``, else the registered model's champion; which one it is goes to
    stderr (stdout is for answers)."""
    prepare()
    from korflow.serving import loading

    try:
        loaded, described = loading.load(uri, registered, trainer)
    except ValueError as exc:
        fail(exc)
    console.print(f"[dim]model: {described}[/]", soft_wrap=True)
    return loaded


@commands.command()
def chat(
    once: Annotated[
        str | None, typer.Option("--once", help="Answer this one question and exit.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=model_help(SPEC["seq2seq"].model),
        ),
    ] = None,
) -> None:
    """Talk to the chatbot: an interactive loop (empty line or Ctrl-D ends it), or --once."""
    loaded = _load(model, SPEC["seq2seq"].model, "korflow seq2seq")
    import pandas as pd

    def answer(question: str) -> str:
        return loaded.predict(pd.DataFrame({"question": [question]}))["answer"][0]

    if once is not None:
        print(answer(once))
        return
    console.print("[dim]Ask in Korean; an empty line ends the chat.[/]")
    while True:
        try:
            question = input("> " if sys.stdin.isatty() else "")  # piped: answers only
        except EOFError:
            break
        if not question.strip():
            break
        print(answer(question))


@commands.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="The start of a Korean text, e.g. '이 영화는'.")],
    n: Annotated[int, typer.Option("--n", min=1, max=100, help="How many continuations.")] = 1,
    temperature: Annotated[
        float, typer.Option(min=0.01, help="Below 1: safer words; above 1: more varied.")
    ] = 0.8,
    top_p: Annotated[
        float,
        typer.Option(
            "--top-p",
            min=0.01,
            max=1.0,
            help="Sample from the smallest set of likeliest units holding this probability.",
        ),
    ] = 0.9,
    seed: Annotated[int, typer.Option(help="The same seed gives the same texts.")] = 0,
    max_new: Annotated[int, typer.Option(min=1, max=1000, help="Units generated at most.")] = 60,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=model_help(SPEC["lm"].model, ", the syllable language model")
            + f" For morphemes: models:/{SPEC['lm'].models[1][0]}@champion-quick.",
        ),
    ] = None,
) -> None:
    """Continue PROMPT with the forward language model of `korflow lm`: one text a line."""
    loaded = _load(model, SPEC["lm"].model, "korflow lm")
    import pandas as pd

    settings_ = {"n": n, "temperature": temperature, "top_p": top_p, "seed": seed}
    result = loaded.predict(
        pd.DataFrame({"prompt": [prompt]}), params={**settings_, "max_new": max_new}
    )
    for text in result["text"]:
        print(text)


@commands.command()
def predict(
    text: Annotated[
        list[str] | None, typer.Argument(help="Reviews; default: lines on stdin.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help=model_help(SPEC["sentiment"].model),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Score a file: .csv, .tsv, .parquet, or .txt (one review a line, or a TSV "
            "with a header such as NSMC's).",
        ),
    ] = None,
    column: Annotated[str, typer.Option(help="The --input column to score.")] = "document",
    output: Annotated[
        Path | None,
        typer.Option(help="Where the scored --input goes: .parquet, .csv, .tsv or .jsonl."),
    ] = None,
) -> None:
    """Label (0 negative / 1 positive) and positive probability for each input."""
    if output and not input_:
        fail("--output needs --input (the file to score)")
    if input_ and text:
        fail("give reviews as arguments or a file with --input, not both")
    if input_:
        from app import scoring

        try:  # the file is checked before the model loads
            table = scoring.read_input(input_, column)
            if output:
                scoring.check_output(output)
        except (ValueError, FileNotFoundError) as exc:
            fail(exc)
    loaded = _load(model, SPEC["sentiment"].model, "korflow sentiment")
    import pandas as pd

    if input_ and output:
        from korflow.core.cpu import cpu_turn

        with cpu_turn("predict", console.print):
            scored, seconds = scoring.score(table, column, loaded.predict)
        scoring.write_output(scored, output)
        console.print(
            f"scored {len(scored):,} rows in {seconds:.1f} s "
            f"({len(scored) / max(seconds, 1e-9):,.0f} rows/s)"
        )
        print(output)  # stdout: where the results went
        return
    texts = (
        scoring.texts(table, column)
        if input_
        else (text or [line.rstrip("\n") for line in sys.stdin])
    )
    result = loaded.predict(pd.DataFrame({"document": texts}))
    for doc, label, prob in zip(texts, result["label"], result["probability"], strict=True):
        if as_json:
            print(
                json.dumps(
                    {"text": doc, "label": int(label), "probability": round(float(prob), 6)},
                    ensure_ascii=False,
                )
            )
        else:
            print(f"{int(label)}\t{prob:.4f}\t{doc}")


@commands.command()
def similar(
    word: Annotated[str, typer.Argument(help="A Korean word; unseen forms work too.")],
    level: Annotated[Literal[LEVELS], typer.Option(help="FastText level.")] = "syllable",
    unit: Annotated[Literal[EMBED_UNITS], typer.Option(help="Its tokens.")] = "morpheme",
    model: Annotated[
        str | None,
        typer.Option(
            *MODEL_FLAGS,
            help="A model: runs:/RUN_ID/model, an MLflow artifact URI or a local path.",
        ),
    ] = None,
    topn: Annotated[int, typer.Option(help="How many neighbours.")] = 10,
) -> None:
    """Nearest neighbours of WORD from the latest FastText run of that level (or --model)."""
    if not word.strip():
        fail("similar needs a word, e.g. `korflow similar 영화`")
    prepare(False)
    from app.embedding_runs import load_vectors
    from korean.errors import KoreanNLPError

    try:
        vectors, where = load_vectors(level, unit, model)
    except (KoreanNLPError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    known = (
        "in vocabulary" if word in vectors else "not in vocabulary: vector composed from n-grams"
    )
    console.print(f"{word} ({known}); model {where}")
    for neighbour, score in vectors.most_similar(word, topn=topn):
        print(f"{neighbour}\t{score:.4f}")


@commands.command()
def tokenize(
    text: Annotated[
        list[str] | None, typer.Argument(help="Text to analyse; default: lines on stdin.")
    ] = None,
    backend: Annotated[
        Literal[BACKENDS], typer.Option("--tokenizer", "--backend", help="KoNLPy backend.")
    ] = "mecab",
    pos: Annotated[bool, typer.Option("--pos", help="Print morpheme/TAG pairs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
) -> None:
    """Clean and tokenize text the way the corpus flow does NSMC reviews (a quick look at a
    backend)."""
    from korean.clean import REVIEWS, Cleaner
    from korean.errors import KoreanNLPError
    from korean.jamo_units import decompose
    from korean.morphemes import TokenizerConfig, get_tokenizer

    try:
        tok = get_tokenizer(TokenizerConfig(backend=backend))
    except (KoreanNLPError, ValueError) as exc:
        fail(exc)
    clean = Cleaner(REVIEWS)
    for line in text or (s.rstrip("\n") for s in sys.stdin):
        cleaned = clean(line)
        morphs = [f"{m}/{t}" for m, t in tok.pos(cleaned)] if pos else tok(cleaned)
        if as_json:
            print(
                json.dumps(
                    {
                        "text": line,
                        "cleaned": cleaned,
                        "tokens": morphs,
                        "jamo": decompose(cleaned),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(" ".join(morphs))
