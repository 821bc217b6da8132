"""Recommenders evaluated side by side, all behind `gnn.eval.baselines.base.Recommender`:
the baselines, then kgrec's own R-GCN and its ablations (`gnn.eval.rgcn`).

`BASELINES` names them in table order; `make_baselines` builds fresh instances (imports are
done on call, so importing this package stays cheap).
"""

from __future__ import annotations

import importlib

#: name -> "module:Class", in the order the evaluation table lists them.
BASELINES: dict[str, str] = {
    "popularity": "gnn.eval.baselines.popularity:Popularity",
    "text-knn": "gnn.eval.baselines.text_knn:TextKNN",
    "item-knn": "gnn.eval.baselines.item_knn:ItemKNN",
    "user-knn": "gnn.eval.baselines.user_knn:UserKNN",
    "ease": "gnn.eval.baselines.ease:EASE",
    "mf-bpr": "gnn.eval.baselines.mf_bpr:MFBPR",
    "lightgcn": "gnn.eval.baselines.lightgcn:LightGCN",
    "dropoutnet": "gnn.eval.baselines.dropoutnet:DropoutNet",
    "content-knn": "gnn.eval.baselines.content_knn:ContentKNN",
    "rgcn-no-text": "gnn.eval.rgcn:RGCNNoText",
    "rgcn-no-kg": "gnn.eval.rgcn:RGCNNoKG",
    "kgrec-rgcn": "gnn.eval.rgcn:RGCNRecommender",
    "kgrec": "gnn.eval.kgrec:KGRec",
    "kgrec-no-rgcn": "gnn.eval.kgrec:KGRecNoRgcn",
    "kgrec-no-neighbours": "gnn.eval.kgrec:KGRecNoNeighbours",
    "kgrec-no-text-bridge": "gnn.eval.kgrec:KGRecNoTextBridge",
    "kgrec-no-text": "gnn.eval.kgrec:KGRecNoText",
}


def baseline_class(name: str) -> type:
    """The Recommender class of a baseline name (see `BASELINES`); ValueError when unknown."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}: expected one of {', '.join(BASELINES)}")
    module, cls = BASELINES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_baselines(names=None, options: dict[str, dict] | None = None) -> list:
    """Fresh, unfitted baselines.

    Args:
        names: Baseline names to build, in this order (default: all of `BASELINES`).
        options: name -> keyword arguments of that baseline's constructor (e.g. smaller grids).

    Returns:
        A list of `Recommender` instances.

    Raises:
        ValueError: For an unknown name.
    """
    options = options or {}
    return [baseline_class(name)(**options.get(name, {})) for name in (names or list(BASELINES))]
