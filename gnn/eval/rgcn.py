"""kgrec's R-GCN and its two ablations as evaluated recommenders (same split as the baselines).

- ``kgrec-rgcn``: text features of every node + catalogue (KG) edges + training interactions;
- ``rgcn-no-text``: the same graph, every node starting from its label vector alone;
- ``rgcn-no-kg``: text features and interactions, no catalogue edge.

All are trained by `gnn.train.fit` with early stopping on validation Recall@k over all items
(overall), the setting that rewards warm and cold items alike.
"""

from __future__ import annotations

import numpy as np
import torch

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.graph import build_graph
from gnn.model import ModelConfig
from gnn.train import Embeddings, Interactions, TrainConfig, fit
from kg.schema import PRODUCT


class RGCNRecommender(Recommender):
    """The R-GCN of `gnn.model` behind the evaluation interface.

    Args:
        use_text: Feed the language model's vectors (False: the no-text ablation).
        use_kg: Keep the catalogue edges (False: the no-KG ablation).
        model_options: Overrides of `ModelConfig`.
        train_options: Overrides of `TrainConfig` (``seed`` comes from the run).
        progress: Show the training's tqdm bar.
    """

    name = "kgrec-rgcn"

    def __init__(self, use_text: bool = True, use_kg: bool = True, model_options: dict | None = None,
                 train_options: dict | None = None, progress: bool = False) -> None:
        super().__init__()
        self.progress = progress
        self.use_text, self.use_kg = use_text, use_kg
        self.model_options = model_options or {}
        self.train_options = train_options or {}
        self._emb: Embeddings | None = None

    def fit(self, data: TrainData) -> "RGCNRecommender":
        # the same model is both a table row and a part of kgrec's hybrid: train it once per run
        key = ("rgcn", self.use_text, self.use_kg, repr(sorted(self.model_options.items())),
               repr(sorted(self.train_options.items())))
        if key not in data.shared:
            data.shared[key] = self._train(data)
        self.result, self.graph, self.params = data.shared[key]
        self._emb = self.result.embeddings
        return self

    def _train(self, data: TrainData):
        if data.snapshot is None:
            raise ValueError(f"{self.name} needs the graph snapshot")
        features = None
        if self.use_text:
            features = dict(data.node_text or {})
            features[PRODUCT] = data.item_text
        graph = build_graph(data.snapshot, features, use_kg=self.use_kg)
        model_config = ModelConfig(text_dim=graph.text_dim, **self.model_options)
        train_config = TrainConfig(**({"seed": data.seed} | self.train_options))
        interactions = Interactions.from_arrays(data.split.train.users, data.split.train.items,
                                                data.split.warm_items)
        result = fit(graph, interactions, model_config, train_config, device=data.device,
                     validate=lambda e: data.validate(e.score, "overall"), desc=self.name,
                     progress=self.progress)
        params = {"hidden": model_config.hidden, "out": model_config.out,
                  "layers": model_config.layers, "epochs": result.best_epoch,
                  "val_overall_recall": round(result.best_value, 4),
                  "epoch_s": round(result.epoch_seconds, 2)}
        return result, graph, params

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._emb.score(users)


class RGCNNoText(RGCNRecommender):
    name = "rgcn-no-text"

    def __init__(self, **options) -> None:
        super().__init__(use_text=False, **options)


class RGCNNoKG(RGCNRecommender):
    name = "rgcn-no-kg"

    def __init__(self, **options) -> None:
        super().__init__(use_kg=False, **options)
