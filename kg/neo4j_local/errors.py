"""The one exception of the local Neo4j server package."""

from __future__ import annotations


class Neo4jServerError(RuntimeError):
    """The local Neo4j server could not be built, started or stopped; says what to do."""
