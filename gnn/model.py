"""The R-GCN: per-label input projections of text vectors, PyG ``RGCNConv`` layers, dot-product scores.

Inductive by construction: no node has an id embedding. A node's input is its label's learned
vector plus a projection of its text (Product, Brand, Category, Attribute), and a User's input is
its label vector alone, so users are defined by what they touched and a new item by its brand,
categories, attributes and text. Any node added after training is embedded by the same forward
pass (`gnn.infer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import RGCNConv

from gnn.graph import RELATIONS
from kg.schema import LABELS, USER


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network (saved in bundles so a model is rebuilt exactly).

    Attributes:
        text_dim: Width of the language model's vectors (0: no text, the ablation).
        text_labels: Labels whose nodes get a text projection.
        hidden: Width of every R-GCN layer.
        out: Width of the final embeddings (users and products alike).
        layers: Number of R-GCN layers (2 is the least that carries item-user-item signal).
        num_bases: Basis decomposition of the relation weights (None: one full matrix each).
        dropout: Dropout between layers while training.
        num_relations: Relation ids (`gnn.graph.RELATIONS`).
        normalize: Unit-length output (cosine scores; pairs with the softmax loss).
    """

    text_dim: int = 384
    text_labels: tuple[str, ...] = tuple(label for label in LABELS if label != USER)
    hidden: int = 64
    out: int = 64
    layers: int = 2
    num_bases: int | None = 4
    dropout: float = 0.1
    num_relations: int = len(RELATIONS)
    normalize: bool = True

    def to_dict(self) -> dict:
        return asdict(self) | {"text_labels": list(self.text_labels)}

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return cls(**(data | {"text_labels": tuple(data.get("text_labels", ()))}))


class RGCNRecModel(nn.Module):
    """Text features -> R-GCN -> user and product embeddings; score = dot product.

    The output is a linear read-out of all layers' states concatenated (input included), so a
    node keeps its own text signal next to what its neighbours sent.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.label_emb = nn.Embedding(len(LABELS), config.hidden)
        self.text_proj = nn.ModuleDict(
            {label: nn.Linear(config.text_dim, config.hidden) for label in config.text_labels}
            if config.text_dim else {}
        )
        self.convs = nn.ModuleList(
            RGCNConv(config.hidden, config.hidden, config.num_relations,
                     num_bases=config.num_bases, aggr="mean")
            for _ in range(config.layers)
        )
        self.readout = nn.Linear(config.hidden * (config.layers + 1), config.out)
        # small label vectors: at the start a node's input is its text, not its label
        nn.init.normal_(self.label_emb.weight, std=0.02)

    def inputs(self, counts: dict[str, int], features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Layer-0 states [num_nodes, hidden] of every node, labels in `LABELS` order."""
        parts = []
        for i, label in enumerate(LABELS):
            n = counts.get(label, 0)
            if n == 0:
                continue
            device = self.label_emb.weight.device
            x = self.label_emb.weight[i].expand(n, -1)
            if label in self.text_proj and label in features:
                x = x + self.text_proj[label](features[label].to(device))
            parts.append(x)
        return torch.cat(parts, 0)

    def propagate(self, x: torch.Tensor, edge_index: torch.Tensor,
                  edge_type: torch.Tensor) -> torch.Tensor:
        """Final embeddings [n, out] from layer-0 states over a typed edge set."""
        states = [x]
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h, edge_index, edge_type)
            if i < len(self.convs) - 1:
                h = F.relu(h)
            h = F.dropout(h, self.config.dropout, self.training)
            states.append(h)
        out = self.readout(torch.cat(states, 1))
        return F.normalize(out, dim=1) if self.config.normalize else out

    def forward(self, counts: dict[str, int], features: dict[str, torch.Tensor],
                edge_index: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        """Embeddings [num_nodes, out] of every node of the graph."""
        return self.propagate(self.inputs(counts, features), edge_index, edge_type)
