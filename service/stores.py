"""Open the configured GraphStore (embedded networkx or Neo4j) from a Config."""

from __future__ import annotations

from kg.errors import StoreUnavailableError
from kg.store import GraphStore
from kg.store_nx import NetworkxStore
from service.config import Config

STORE_KINDS = ("embedded", "neo4j")


def open_store(config: Config) -> GraphStore:
    """The store named by ``config.store``.

    Raises:
        StoreUnavailableError: Neo4j chosen but no URI configured and no local server running,
            or the server cannot be reached.
    """
    if config.store == "embedded":
        return NetworkxStore(config.embedded_path)
    if config.store == "neo4j":
        from kg.store_neo4j import Neo4jStore  # the driver is only needed for this store

        credentials = config.neo4j_credentials()
        if credentials is None:
            raise StoreUnavailableError(
                "no Neo4j configured: set NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD, "
                "or start a local server with `kgrec neo4j start`"
            )
        uri, user, password = credentials
        return Neo4jStore(uri, user, password, database=config.neo4j_database)
    raise ValueError(f"unknown store {config.store!r}; choose one of {', '.join(STORE_KINDS)}")
