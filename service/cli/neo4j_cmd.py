"""`kgrec neo4j start|stop|status`: a local Neo4j 5.26 Community server, no Docker needed.

The server runs embedded in a JVM built from Maven Central jars (kg/neo4j_local); its data, logs
and credentials live in ``$KGREC_HOME/neo4j``. Other commands find it there when NEO4J_URI is unset.
"""

from __future__ import annotations

import json
import sys

import click

from service.config import Config


def _server():
    from kg.neo4j_local import server  # imported lazily: only these commands need it

    return server


def _describe(info) -> str:
    lines = [f"Neo4j running (pid {info.pid}) at {info.uri}  user: {info.user}  home: {info.home}"]
    if info.browser_url:
        lines.append(f"Neo4j Browser: {info.browser_url}  (connect to {info.uri})")
    lines.append(f"password: in {info.home / 'server.json'}")
    return "\n".join(lines)


@click.group()
def neo4j() -> None:
    """Start, stop or inspect the local Neo4j server (data in $KGREC_HOME/neo4j)."""


@neo4j.command()
@click.option("--bolt-port", type=click.IntRange(1, 65535), default=None, help="Bolt port (default: a free one).")
@click.option("--http-port", type=click.IntRange(1, 65535), default=None,
              help="HTTP port for Neo4j Browser (default: a free one).")
@click.option("--browser/--no-browser", default=True, show_default=True, help="Serve Neo4j Browser over HTTP.")
@click.option("--timeout", type=float, default=120, show_default=True, help="Seconds to wait until Bolt answers.")
@click.pass_obj
def start(config: Config, bolt_port, http_port, browser, timeout):
    """Start the server (or report the one already running); returns once Bolt answers."""
    server = _server()
    click.echo("starting Neo4j (the first run downloads its jars from Maven Central) …", err=True)
    try:
        info = server.start(
            config.neo4j_home, cache_root=config.build_cache, bolt_port=bolt_port,
            http_port=http_port, browser=browser, timeout=timeout,
        )
    except server.Neo4jServerError as exc:
        click.echo(f"kgrec: error: {exc}", err=True)
        sys.exit(1)
    click.echo(_describe(info))


@neo4j.command()
@click.pass_obj
def stop(config: Config):
    """Stop the server cleanly (exit 0 also when none was running)."""
    stopped = _server().stop(config.neo4j_home)
    click.echo("Neo4j stopped" if stopped else "Neo4j was not running")


@neo4j.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(config: Config, as_json: bool):
    """Say whether the server runs and where; exit 1 when it does not."""
    info = _server().status(config.neo4j_home)
    if as_json:
        payload = {"running": info is not None}
        if info is not None:
            payload.update(uri=info.uri, pid=info.pid, browser_url=info.browser_url, home=str(info.home))
        click.echo(json.dumps(payload))
    else:
        click.echo(_describe(info) if info else f"Neo4j is not running (home {config.neo4j_home})")
    sys.exit(0 if info else 1)
