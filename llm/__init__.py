"""Language-model text encoder: node texts, batching, pooling, content cache, queries.

Public names are re-exported lazily, so ``import llm`` (or ``llm.texts``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TextEncoder": "llm.encoder",
    "default_model_path": "llm.encoder",
    "resolve_device": "llm.encoder",
    "EmbeddingCache": "llm.cache",
    "text_key": "llm.cache",
    "EncodeStats": "llm.encode_nodes",
    "encode_graph_texts": "llm.encode_nodes",
    "TEXT_VERSION": "llm.texts",
    "node_text": "llm.texts",
    "LLMError": "llm.errors",
    "ModelLoadError": "llm.errors",
    "InvalidInputError": "llm.errors",
    "CacheError": "llm.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
