"""Exceptions raised at the kg package boundary; messages name the file, line, field or id."""

from __future__ import annotations


class KgError(Exception):
    """Base class of every error raised by kg."""


class InvalidInputError(KgError):
    """A source row that cannot be loaded: names the file, the line (1-based) and the field."""

    def __init__(self, path: str, line: int, field: str | None, message: str):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = f"{self.path}:{line}"
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}")


class LoadError(KgError):
    """A load stopped on a bad row; ``committed`` says how many rows were stored before it."""

    def __init__(self, cause: InvalidInputError, committed_rows: int, batch_lines: tuple[int, int]):
        self.cause, self.committed_rows, self.batch_lines = cause, committed_rows, batch_lines
        super().__init__(
            f"{cause} — load stopped; rows on lines {batch_lines[0]}–{batch_lines[1]} of that file "
            f"were not committed ({committed_rows} rows of it were committed before them); fix the "
            "row and load again (loading is idempotent), or pass --on-error skip"
        )


class NotFoundError(KgError):
    """A node asked for by id does not exist in the store."""

    def __init__(self, label: str, node_id: str):
        self.label, self.node_id = label, node_id
        super().__init__(f"{label} {node_id!r} not found")


class StoreUnavailableError(KgError):
    """The graph store cannot be reached (Neo4j down, wrong credentials, missing folder)."""
