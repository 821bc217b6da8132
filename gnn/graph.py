"""Snapshot -> the typed, homogeneous graph the R-GCN runs on (PyG ``edge_index`` + ``edge_type``).

All node labels share one index space: label ``L``'s node ``i`` is global node
``offsets[L] + i``, labels in `kg.schema.LABELS` order. Every relationship type of the catalogue
gives two relations (the type and its inverse, so messages flow both ways); INTERACTED edges
are kept apart because training chooses, each epoch, which of them carry messages. The relation
list is fixed by the schema (not by the data), so a model trained on one catalogue has the same
relation ids as the graph of another, and empty relations simply send no message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kg.schema import LABELS, PRODUCT, REL_TYPES, USER
from kg.snapshot import GraphSnapshot

INTERACTED = "INTERACTED"
#: Catalogue relationship types used as message edges (RECOMMENDED is model output, not input).
KG_RELS: tuple[str, ...] = tuple(r for r in REL_TYPES if r not in (INTERACTED, "RECOMMENDED"))
#: Relation names in relation-id order: each catalogue type, its inverse, then INTERACTED both ways.
RELATIONS: tuple[str, ...] = tuple(
    name for rel in (*KG_RELS, INTERACTED) for name in (rel, f"{rel}__inv")
)
RELATION_ID: dict[str, int] = {name: i for i, name in enumerate(RELATIONS)}


@dataclass
class KGGraph:
    """Node index space, catalogue message edges and input text features of one snapshot.

    Attributes:
        counts: label -> number of nodes.
        offsets: label -> global index of the label's first node.
        kg_edge_index: int64 [2, E] catalogue edges in both directions (global indices).
        kg_edge_type: int64 [E] relation id of each (see `RELATIONS`).
        features: label -> float32 [n, dim] text vectors (zero rows for nodes without text);
            labels without text (User) are absent.
    """

    counts: dict[str, int]
    offsets: dict[str, int]
    kg_edge_index: torch.Tensor
    kg_edge_type: torch.Tensor
    features: dict[str, torch.Tensor]

    @property
    def num_nodes(self) -> int:
        return sum(self.counts.values())

    @property
    def text_dim(self) -> int:
        return next(iter(self.features.values())).shape[1] if self.features else 0

    def globals(self, label: str, index) -> torch.Tensor:
        """Global indices of local ``index`` (int array or tensor) of ``label``."""
        return torch.as_tensor(index, dtype=torch.int64) + self.offsets[label]

    def interaction_edges(self, users, items) -> tuple[torch.Tensor, torch.Tensor]:
        """Message edges for (user, item) pairs in local indices: both directions, with types."""
        u, i = self.globals(USER, users), self.globals(PRODUCT, items)
        edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])])
        n = len(u)
        edge_type = torch.cat([torch.full((n,), RELATION_ID[INTERACTED]),
                               torch.full((n,), RELATION_ID[f"{INTERACTED}__inv"])])
        return edge_index, edge_type

    def message_graph(self, users, items) -> tuple[torch.Tensor, torch.Tensor]:
        """Catalogue edges plus the given interactions: the full ``(edge_index, edge_type)``."""
        ei, et = self.interaction_edges(users, items)
        ei, et = ei.to(self.kg_edge_index.device), et.to(self.kg_edge_index.device)
        return torch.cat([self.kg_edge_index, ei], 1), torch.cat([self.kg_edge_type, et])


def build_graph(
    snapshot: GraphSnapshot,
    features: dict[str, np.ndarray] | None,
    *,
    use_kg: bool = True,
    kg_rels: tuple[str, ...] = KG_RELS,
) -> KGGraph:
    """The `KGGraph` of a snapshot.

    Args:
        snapshot: The graph snapshot.
        features: label -> float32 [n_label, dim] text vectors in snapshot node order (as
            `llm.encode_nodes.encode_graph_texts` returns them); None for a model without text.
        use_kg: False drops every catalogue edge (the "without KG edges" ablation).
        kg_rels: Catalogue relationship types to keep (default: all of `KG_RELS`).

    Raises:
        ValueError: When a feature matrix does not match its label's node count.
    """
    counts = {label: snapshot.num_nodes(label) for label in LABELS}
    offsets, start = {}, 0
    for label in LABELS:
        offsets[label] = start
        start += counts[label]
    index, types = [], []
    for rel in kg_rels if use_kg else ():
        edges = snapshot.edges.get(rel)
        if edges is None or edges.shape[1] == 0:
            continue
        rt = REL_TYPES[rel]
        src = torch.from_numpy(edges[0]) + offsets[rt.src]
        dst = torch.from_numpy(edges[1]) + offsets[rt.dst]
        index += [torch.stack([src, dst]), torch.stack([dst, src])]
        types += [torch.full((len(src),), RELATION_ID[rel]),
                  torch.full((len(src),), RELATION_ID[f"{rel}__inv"])]
    kg_edge_index = torch.cat(index, 1) if index else torch.zeros((2, 0), dtype=torch.int64)
    kg_edge_type = torch.cat(types) if types else torch.zeros(0, dtype=torch.int64)
    feats: dict[str, torch.Tensor] = {}
    for label, array in (features or {}).items():
        if label == USER:
            continue
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2 or len(array) != counts[label]:
            raise ValueError(f"features[{label!r}] must be [{counts[label]}, dim], got {array.shape}")
        feats[label] = torch.from_numpy(array)
    return KGGraph(counts, offsets, kg_edge_index, kg_edge_type, feats)
