"""The `kgrec` command line: one entry point for every part of the product.

Exit codes: 0 success; 1 the work failed (bad input rows, unreachable store, ...); 2 usage error.
Results go to stdout, logs and progress bars to stderr.
"""

from __future__ import annotations

import logging
import sys

import click

from kg.errors import KgError
from llm.errors import LLMError
from service.config import load_config


class KgrecGroup(click.Group):
    """Turns the package errors every command may raise into one stderr line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (KgError, LLMError) as exc:
            click.echo(f"kgrec: error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=KgrecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """kgrec: recommendations from a product knowledge graph and a language model.

    State (embedded store, local Neo4j, caches) lives under KGREC_HOME
    (default ~/.local/share/kgrec). Typical first run:

        kgrec load ../shared/data/amazon-industrial-scientific && kgrec stats
    """
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = load_config()


def _register() -> None:
    from service.cli import (data, encode_cmd, evaluate_cmd, neo4j_cmd, refresh_cmd, serve_cmd,
                             train_cmd)

    main.add_command(data.load)
    main.add_command(data.stats)
    main.add_command(data.synth)
    main.add_command(neo4j_cmd.neo4j)
    main.add_command(encode_cmd.encode)
    main.add_command(evaluate_cmd.evaluate)
    main.add_command(train_cmd.train)
    main.add_command(serve_cmd.serve)
    main.add_command(refresh_cmd.refresh)


_register()
