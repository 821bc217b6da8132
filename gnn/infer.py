"""Embeddings for nodes added after training (a new product, an anonymous user), no retraining.

The new nodes are appended to the trained graph with their edges, and the R-GCN runs only on
their L-hop in-neighbourhood (PyG's ``k_hop_subgraph``), which gives exactly the embedding a
full-graph forward would give them. Existing nodes keep their stored embeddings: a new product
changes its brand's state slightly, and the next refresh recomputes everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch_geometric.utils import k_hop_subgraph

from gnn.graph import INTERACTED, KGGraph, RELATION_ID
from gnn.model import RGCNRecModel
from kg.schema import LABELS, REL_TYPES

#: A node reference: (label, index); an index at or above the graph's count of that label refers
#: to the new nodes of that label, in the order given (count + 0, count + 1, ...).
NodeRef = tuple[str, int]


@dataclass
class NewNodes:
    """Nodes to embed and their edges.

    Attributes:
        features: label -> float32 [m, text_dim] text vectors of the new nodes of that label
            (a label without text, User, gives an array [m, 0] or any [m, d]: only m counts).
        edges: (relationship type, source ref, target ref), in the schema's direction, e.g.
            ``("MADE_BY", ("Product", n_products), ("Brand", 17))`` or
            ``("INTERACTED", ("User", n_users), ("Product", 5))``.
    """

    features: dict[str, np.ndarray] = field(default_factory=dict)
    edges: list[tuple[str, NodeRef, NodeRef]] = field(default_factory=list)

    def count(self, label: str) -> int:
        return len(self.features.get(label, ()))


class Inductor:
    """Embeds new nodes with a trained model over a fixed graph.

    Args:
        model: The trained R-GCN.
        graph: Its input graph.
        message_users, message_items: The interactions used as message edges.
    """

    def __init__(self, model: RGCNRecModel, graph: KGGraph, message_users, message_items) -> None:
        self.model = model.eval()
        self.graph = graph
        self.edge_index, self.edge_type = graph.message_graph(
            np.asarray(message_users), np.asarray(message_items))
        with torch.no_grad():
            self.x0 = model.inputs(graph.counts, graph.features)

    def _global(self, ref: NodeRef, new_offsets: Mapping[str, int]) -> int:
        label, index = ref
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        count = self.graph.counts[label]
        if index < count:
            return self.graph.offsets[label] + int(index)
        return new_offsets[label] + int(index) - count

    @torch.no_grad()
    def embed(self, new: NewNodes) -> dict[str, torch.Tensor]:
        """label -> float32 [m, out] embeddings of the new nodes of that label.

        Raises:
            ValueError: For an unknown relationship type or label, an edge whose endpoint labels
                do not match the type, or a reference to a new node that was not given.
        """
        n_old = self.graph.num_nodes
        new_offsets, start, rows = {}, n_old, []
        for i, label in enumerate(LABELS):
            m = new.count(label)
            new_offsets[label] = start
            start += m
            if m:
                x = self.model.label_emb.weight[i].expand(m, -1)
                if label in self.model.text_proj and new.features[label].shape[1]:
                    x = x + self.model.text_proj[label](torch.as_tensor(
                        np.asarray(new.features[label], dtype=np.float32)))
                rows.append(x)
        if start == n_old:
            return {}
        src, dst, types = [], [], []
        for rel, a, b in new.edges:
            if rel not in REL_TYPES or rel == "RECOMMENDED":
                raise ValueError(f"unknown or non-message relationship type {rel!r}")
            rt = REL_TYPES[rel]
            if (a[0], b[0]) != (rt.src, rt.dst):
                raise ValueError(f"{rel} goes from {rt.src} to {rt.dst}, got {a[0]} -> {b[0]}")
            for ref in (a, b):
                if ref[1] >= self.graph.counts[ref[0]] + new.count(ref[0]) or ref[1] < 0:
                    raise ValueError(f"{ref[0]} node {ref[1]} does not exist")
            s, d = self._global(a, new_offsets), self._global(b, new_offsets)
            src += [s, d]
            dst += [d, s]
            types += [RELATION_ID[rel], RELATION_ID[f"{rel}__inv"]]
        x = torch.cat([self.x0, *rows])
        edge_index = torch.cat([self.edge_index, torch.tensor([src, dst], dtype=torch.int64)], 1) \
            if src else self.edge_index
        edge_type = torch.cat([self.edge_type, torch.tensor(types, dtype=torch.int64)]) \
            if types else self.edge_type
        targets = torch.arange(n_old, start)
        subset, sub_index, mapping, edge_mask = k_hop_subgraph(
            targets, len(self.model.convs), edge_index, relabel_nodes=True, num_nodes=start)
        out = self.model.propagate(x[subset], sub_index, edge_type[edge_mask])[mapping]
        result, begin = {}, 0
        for label in LABELS:
            m = new.count(label)
            if m:
                result[label] = out[begin : begin + m]
                begin += m
        return result

    def embed_user(self, items: Sequence[int]) -> torch.Tensor:
        """[out] embedding of an anonymous user who touched ``items`` (product indices)."""
        user = ("User", self.graph.counts["User"])
        new = NewNodes({"User": np.zeros((1, 0), np.float32)},
                       [(INTERACTED, user, ("Product", int(i))) for i in items])
        return self.embed(new)["User"][0]
