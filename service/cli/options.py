"""Options shared by the commands that open a store."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from service.config import Config
from service.stores import STORE_KINDS


def store_options(func):
    """Add --store/--store-path/--neo4j-* options; the command receives ``config`` with them applied."""

    @click.option("--store", type=click.Choice(STORE_KINDS), default=None,
                  help="Graph store: 'embedded' (in-process networkx, the default) or 'neo4j'. [KGREC_STORE]")
    @click.option("--store-path", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder of the embedded store (default: $KGREC_HOME/store). [KGREC_STORE_PATH]")
    @click.option("--neo4j-uri", default=None,
                  help="Neo4j URI (default: the local server of `kgrec neo4j start`). [NEO4J_URI]")
    @click.option("--neo4j-user", default=None, help="Neo4j user (default neo4j). [NEO4J_USER]")
    @click.option("--neo4j-password", default=None, help="Neo4j password. [NEO4J_PASSWORD]")
    @click.option("--neo4j-database", default=None, help="Neo4j database (default neo4j). [NEO4J_DATABASE]")
    @click.pass_obj
    @functools.wraps(func)
    def wrapper(config: Config, store, store_path, neo4j_uri, neo4j_user, neo4j_password,
                neo4j_database, **kwargs):
        config = config.with_overrides(
            store=store, store_path=store_path, neo4j_uri=neo4j_uri, neo4j_user=neo4j_user,
            neo4j_password=neo4j_password, neo4j_database=neo4j_database,
        )
        return func(config, **kwargs)

    return wrapper
