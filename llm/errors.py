"""Exceptions raised at the boundary of the llm package (the service maps them to HTTP errors)."""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every error raised by `llm`."""


class ModelLoadError(LLMError):
    """A language model could not be loaded: missing folder, not a model, not in the local cache.

    Attributes:
        path: The model folder or hub name that was asked for.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot load language model from {path!r}: {reason}")


class InvalidInputError(LLMError, ValueError):
    """An argument is invalid (not a string, unknown node label, batch size <= 0 ...)."""


class CacheError(LLMError):
    """The embedding cache cannot be used as asked (e.g. vectors of a different dimension)."""
