"""Cleaning, tokenization and vocabulary tasks, mapped over shards."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger

from korean.clean import CleanConfig, Cleaner, split_sentences
from korean.morphemes import TokenizerConfig, get_tokenizer
from korflow.core import settings
from korflow.core.datasets import Shard, digest_of, write_shard

from .caching import CORPUS_CACHE, data_task


def _out(stage: str, shard: Shard, *params: object) -> Path:
    source = Path(shard.path)
    return settings.output_path(
        "corpus",
        stage,
        source.parent.name,
        f"{source.stem}-{digest_of(shard.sha256, *params)}.parquet",
    )


@data_task(CORPUS_CACHE)
def clean_shard(
    shard: Shard,
    column: str,
    config: CleanConfig,
    sentences: bool = False,
    drop_empty: bool = True,
    keep_splits: tuple[str, ...] = ("test",),
) -> Shard:
    """Clean ``column`` into ``text`` (the original goes to ``raw``), one row per sentence if asked.

    Rows that clean to nothing are dropped and counted, except in ``keep_splits``: the NSMC
    test set is evaluated whole, so its empty rows stay (with empty text).
    """
    table = shard.read()
    clean = Cleaner(config)
    others = [c for c in table.column_names if c != column]
    out: dict[str, list] = {c: [] for c in [*others, "raw", "text"]}
    splits = table.column("split").to_pylist() if "split" in others else [None] * table.num_rows
    values = {c: table.column(c).to_pylist() for c in others}
    dropped: Counter = Counter()
    kept_empty = 0
    for i, raw in enumerate(table.column(column).to_pylist()):
        units = split_sentences(raw or "") if sentences else [raw or ""]
        if not any(u.strip() for u in units):
            units = [""]
        for unit in units:
            text = clean(unit)
            if not text:
                if splits[i] in keep_splits:
                    kept_empty += 1
                elif drop_empty:
                    dropped["empty_input" if not unit.strip() else "empty_after_clean"] += 1
                    continue
            for c in others:
                out[c].append(values[c][i])
            out["raw"].append(unit)
            out["text"].append(text)
    schema = pa.schema(
        [
            *(table.schema.field(c) for c in others),
            pa.field("raw", pa.string()),
            pa.field("text", pa.string()),
        ]
    )
    stats = {
        "rows_in": table.num_rows,
        "rows_out": len(out["text"]),
        "dropped": dict(dropped),
        "kept_empty": kept_empty,
    }
    if dropped:
        get_run_logger().info("%s: dropped %s", Path(shard.path).name, dict(dropped))
    return write_shard(
        pa.table(out, schema=schema),
        _out("clean", shard, config, sentences, drop_empty, keep_splits),
        stats,
    )


@data_task(CORPUS_CACHE)
def tokenize_shard(shard: Shard, config: TokenizerConfig) -> Shard:
    """Add a ``tokens`` column (list of morphemes) with the configured KoNLPy backend."""
    table = shard.read()
    tokenizer = get_tokenizer(config)
    tokens = [tokenizer(text) for text in table.column("text").to_pylist()]
    n_tokens = sum(map(len, tokens))
    stats = {
        "rows": table.num_rows,
        "tokens": n_tokens,
        "rows_without_tokens": sum(1 for t in tokens if not t),
    }
    table = table.append_column("tokens", pa.array(tokens, type=pa.list_(pa.string())))
    return write_shard(table, _out("tokens", shard, config), stats)


@data_task(CORPUS_CACHE)
def build_vocabulary(shards: list[Shard], name: str, train_only: bool = True) -> Shard:
    """Token frequencies over the shards (training rows only when a ``split`` column exists)."""
    counts: Counter = Counter()
    for shard in shards:
        table = shard.read()
        if train_only and "split" in table.column_names:
            table = table.filter(pc.equal(table["split"], "train"))
        if table.num_rows == 0:
            continue
        freq = pc.value_counts(pc.list_flatten(table["tokens"]))
        counts.update(
            dict(
                zip(freq.field("values").to_pylist(), freq.field("counts").to_pylist(), strict=True)
            )
        )
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    vocab = pa.table(
        {"token": [t for t, _ in ordered], "count": [c for _, c in ordered]},
        schema=pa.schema([("token", pa.string()), ("count", pa.int64())]),
    )
    path = settings.output_path(
        "corpus", "vocab", f"{name}-{digest_of([s.sha256 for s in shards], train_only)}.parquet"
    )
    stats = {"size": vocab.num_rows, "tokens": int(sum(counts.values()))}
    return write_shard(vocab, path, stats)
