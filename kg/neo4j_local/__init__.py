"""A local Neo4j 5.26 Community server (embedded, from Maven Central jars; no Docker).

See :mod:`kg.neo4j_local.server`.
"""

from .server import (
    NEO4J_VERSION,
    Neo4jServerError,
    ServerInfo,
    build,
    default_cache_root,
    java_available,
    start,
    status,
    stop,
)

__all__ = [
    "NEO4J_VERSION",
    "Neo4jServerError",
    "ServerInfo",
    "build",
    "default_cache_root",
    "java_available",
    "start",
    "status",
    "stop",
]
