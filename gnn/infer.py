"""Embeddings for nodes added after training (a new product, an anonymous user), no retraining.

The new nodes are appended to the trained graph with their edges, and the R-GCN runs only on
their L-hop in-neighbourhood (what PyG's ``k_hop_subgraph`` would select, gathered from the
edges' by-target index instead of masks over every edge), which gives exactly the embedding a
full-graph forward would give them. Existing nodes keep their stored embeddings: a new product
changes its brand's state slightly, and the next refresh recomputes everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

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
        edge_index, edge_type = graph.message_graph(np.asarray(message_users),
                                                    np.asarray(message_items))
        # edges by target node (CSR): a new node's L-hop in-neighbourhood is gathered from the
        # in-edge slices of a few thousand nodes instead of masks over all of the graph's edges
        # (k_hop_subgraph: ~60 ms a call at 100k products with 1.5M interactions)
        order = torch.argsort(edge_index[1], stable=True)
        self.edge_index, self.edge_type = edge_index[:, order], edge_type[order]
        self.in_ptr = torch.zeros(graph.num_nodes + 1, dtype=torch.int64)
        self.in_ptr[1:] = torch.bincount(self.edge_index[1], minlength=graph.num_nodes).cumsum(0)
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

    def _in_neighbourhood(self, targets: torch.Tensor, new_edges: tuple) -> tuple:
        """(sorted node ids, relabelled edge_index, edge_type) of every edge into a node less
        than L hops upstream of ``targets``: all that L layers use to compute the targets'
        embeddings, so the result is the full graph's (as with PyG's ``k_hop_subgraph``)."""
        n_old = self.graph.num_nodes
        new_src, new_dst, new_type = new_edges
        srcs, dsts, kinds = [], [], []
        seen = targets
        frontier = targets
        for _ in range(len(self.model.convs)):
            old = frontier[frontier < n_old]
            begin, end = self.in_ptr[old], self.in_ptr[old + 1]
            counts = end - begin
            # the ranges begin..end of every frontier node, concatenated
            at = torch.repeat_interleave(begin - (counts.cumsum(0) - counts), counts) \
                + torch.arange(int(counts.sum()))
            chosen = torch.isin(new_dst, frontier)
            srcs += [self.edge_index[0, at], new_src[chosen]]
            dsts += [self.edge_index[1, at], new_dst[chosen]]
            kinds += [self.edge_type[at], new_type[chosen]]
            upstream = torch.unique(torch.cat([srcs[-2], srcs[-1]]))
            frontier = upstream[~torch.isin(upstream, seen)]
            seen = torch.cat([seen, frontier])
        src, dst = torch.cat(srcs), torch.cat(dsts)
        subset = torch.unique(torch.cat([targets, src, dst]))
        index = torch.stack([torch.searchsorted(subset, src), torch.searchsorted(subset, dst)])
        return subset, index, torch.cat(kinds)

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
        new_x = torch.cat(rows)
        new_edges = (torch.tensor(src, dtype=torch.int64), torch.tensor(dst, dtype=torch.int64),
                     torch.tensor(types, dtype=torch.int64))
        targets = torch.arange(n_old, start)
        subset, sub_index, sub_type = self._in_neighbourhood(targets, new_edges)
        old = subset < n_old  # subset is sorted: the old nodes first, then the new ones
        x = torch.cat([self.x0[subset[old]], new_x[subset[~old] - n_old]])
        out = self.model.propagate(x, sub_index, sub_type)[torch.searchsorted(subset, targets)]
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
