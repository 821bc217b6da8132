"""Training of the R-GCN on user->product links: sampled softmax (or BPR), disjoint
message/supervision edges, cold drop.

Each epoch (`epoch_edges`), the training interactions are cut in two disjoint sets: message edges
(they feed the R-GCN) and supervision edges (the loss's positives). A random ``cold_item_share`` of
the warm items loses all its message edges that epoch, so those items must be embedded from
brand, categories, attributes and text alone: that is what makes the model useful for items no
one has bought yet. Every batch runs the full-graph forward (the graphs kgrec targets fit in
memory; DESIGN.md §7 has the mini-batch road for larger ones).

Under ``torchrun`` (`gnn.distributed`) every rank draws the same epoch edges from the shared seed
and takes its own slice of each batch; DistributedDataParallel averages the gradients, so all
ranks keep identical weights.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gnn import distributed
from gnn.graph import KGGraph
from gnn.model import ModelConfig, RGCNRecModel
from kg.schema import PRODUCT, USER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        lr: Adam learning rate.
        reg: L2 weight on the batch's user/item embeddings (BPR's usual regulariser).
        batch_size: Supervision edges per step (split over the ranks when distributed).
        max_epochs: Upper bound of epochs.
        patience: Epochs without a better validation figure before stopping.
        supervision_share: Share of the other training edges used as supervision each epoch.
        cold_item_share: Share of warm items whose edges are all supervision (none message).
        loss: ``"softmax"`` (sampled softmax over the batch's positives plus ``negatives``
            uniform warm items, cosine logits / ``temperature``) or ``"bpr"`` (one negative).
        seed: Seed of initial weights, edge splits and negatives.
    """

    lr: float = 1e-2
    reg: float = 1e-4
    batch_size: int = 1024
    max_epochs: int = 100
    patience: int = 8
    supervision_share: float = 0.3
    cold_item_share: float = 0.2
    loss: str = "softmax"
    temperature: float = 0.1
    negatives: int = 1024
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Interactions:
    """Training interactions in local indices, and the items that may be negatives."""

    users: torch.Tensor
    items: torch.Tensor
    warm_items: torch.Tensor

    @classmethod
    def from_arrays(cls, users, items, warm_items=None) -> "Interactions":
        users = torch.as_tensor(np.asarray(users), dtype=torch.int64)
        items = torch.as_tensor(np.asarray(items), dtype=torch.int64)
        warm = items.unique() if warm_items is None else torch.as_tensor(
            np.asarray(warm_items), dtype=torch.int64)
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length: {len(users)} != {len(items)}")
        if len(users) == 0:
            raise ValueError("no training interactions")
        return cls(users, items, warm)


@dataclass
class Embeddings:
    """Final user and product embeddings (CPU float32)."""

    users: torch.Tensor
    items: torch.Tensor
    all: torch.Tensor

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.users[users] @ self.items.T


@dataclass
class FitResult:
    model: RGCNRecModel
    embeddings: Embeddings
    best_epoch: int
    best_value: float
    history: list[dict] = field(default_factory=list)
    epoch_seconds: float = 0.0


def epoch_edges(data: Interactions, config: TrainConfig, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(message mask, supervision row order) of one epoch; the same on every rank.

    Returns:
        bool [n] True for message edges, and int64 [s] the supervision rows in random order.
    """
    gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    n_drop = int(round(config.cold_item_share * len(data.warm_items)))
    dropped = data.warm_items[torch.randperm(len(data.warm_items), generator=gen)[:n_drop]]
    supervision = torch.isin(data.items, dropped)
    supervision |= torch.rand(len(data.users), generator=gen) < config.supervision_share
    rows = torch.nonzero(supervision).flatten()
    rows = rows[torch.randperm(len(rows), generator=gen)]
    return ~supervision, rows


def softmax_loss(emb: torch.Tensor, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
                 temperature: float) -> torch.Tensor:
    """Sampled softmax: each user's positive against the batch's other positives and ``neg``.

    Logits are cosine similarities over ``temperature``; a candidate that is the row's own
    positive item elsewhere in the batch is masked so it never counts as a negative.
    """
    eu = F.normalize(emb[u], dim=1)
    cand = torch.cat([pos, neg])
    ec = F.normalize(emb[cand], dim=1)
    logits = eu @ ec.T / temperature
    same = pos[:, None] == cand[None, :]
    same[torch.arange(len(pos)), torch.arange(len(pos))] = False
    logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(pos), device=logits.device))


def bpr_loss(emb: torch.Tensor, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
             reg: float) -> torch.Tensor:
    """Mean BPR loss of (user, positive, negative) global node ids plus L2 on their embeddings."""
    eu, ep, en = emb[u], emb[pos], emb[neg]
    loss = -F.logsigmoid((eu * ep).sum(1) - (eu * en).sum(1)).mean()
    return loss + reg * (eu.pow(2).sum(1) + ep.pow(2).sum(1) + en.pow(2).sum(1)).mean() / 2


@torch.no_grad()
def embed(model: RGCNRecModel, graph: KGGraph, users: torch.Tensor, items: torch.Tensor,
          device: torch.device | str = "cpu") -> Embeddings:
    """Embeddings of every node with the given interactions as message edges (eval mode)."""
    module = distributed.unwrap(model)
    was_training = module.training
    module.eval()
    edge_index, edge_type = graph.message_graph(users, items)
    out = module(graph.counts, graph.features, edge_index.to(device), edge_type.to(device)).float().cpu()
    module.train(was_training)
    p0, u0 = graph.offsets[PRODUCT], graph.offsets[USER]
    return Embeddings(out[u0 : u0 + graph.counts[USER]], out[p0 : p0 + graph.counts[PRODUCT]], out)


def fit(
    graph: KGGraph,
    data: Interactions,
    model_config: ModelConfig,
    config: TrainConfig = TrainConfig(),
    *,
    validate: Callable[[Embeddings], float] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "train",
) -> FitResult:
    """Trains a fresh R-GCN; keeps the weights of the best validation epoch.

    Args:
        graph: The graph (catalogue edges and text features).
        data: Training interactions (their message/supervision split changes every epoch).
        model_config: Network shape.
        config: Optimisation settings.
        validate: Embeddings (training interactions as messages) -> figure to maximise, e.g.
            validation Recall@20; None trains ``max_epochs`` epochs and keeps the last.
        device: Where to train.
        progress: Show a tqdm bar with loss and validation figure (rank 0 only).
        desc: Label of the bar and log lines.

    Returns:
        A `FitResult` with the model on the CPU and its embeddings.
    """
    device = torch.device(device)
    # On CPU, deterministic kernels make a seed give bit-identical weights (scatter sums
    # otherwise depend on thread timing); the switch is process-wide, so it is restored after.
    previous = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        return _fit(graph, data, model_config, config, validate, device, progress, desc)
    finally:
        torch.use_deterministic_algorithms(previous)


def _fit(graph, data, model_config, config, validate, device, progress, desc) -> FitResult:
    torch.manual_seed(config.seed)
    model = RGCNRecModel(model_config).to(device)
    graph = _to_device(graph, device)
    train_model = distributed.wrap(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rank, world = distributed.rank_and_world()
    neg_gen = torch.Generator().manual_seed(config.seed * 7919 + 17)
    users_g = data.users + graph.offsets[USER]
    items_g = data.items + graph.offsets[PRODUCT]
    warm_g = data.warm_items + graph.offsets[PRODUCT]

    best_value, best_epoch, best_state = float("-inf"), 0, copy.deepcopy(model.state_dict())
    history: list[dict] = []
    epoch_times: list[float] = []
    bar = tqdm(range(1, config.max_epochs + 1), desc=desc, unit="epoch",
               disable=not progress or rank != 0)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        message, rows = epoch_edges(data, config, epoch)
        edge_index, edge_type = graph.message_graph(data.users[message], data.items[message])
        edge_index, edge_type = edge_index.to(device), edge_type.to(device)
        # negatives drawn from the warm items (the same draw on every rank)
        n_neg = len(rows) if config.loss == "bpr" else config.negatives * (len(rows) // config.batch_size + 1)
        negatives = warm_g[torch.randint(len(warm_g), (n_neg,), generator=neg_gen)]
        total, steps = 0.0, 0
        for begin in range(0, len(rows), config.batch_size):
            batch = rows[begin : begin + config.batch_size]
            mine = slice(rank, None, world)
            emb = train_model(graph.counts, graph.features, edge_index, edge_type)
            u, pos = users_g[batch][mine].to(device), items_g[batch][mine].to(device)
            if config.loss == "bpr":
                neg = negatives[begin : begin + config.batch_size][mine].to(device)
                loss = bpr_loss(emb, u, pos, neg, config.reg)
            else:
                step = begin // config.batch_size
                neg = negatives[step * config.negatives : (step + 1) * config.negatives].to(device)
                loss = softmax_loss(emb, u, pos, neg, config.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + float(loss.detach()), steps + 1
        epoch_times.append(time.perf_counter() - t0)
        record = {"epoch": epoch, "loss": round(total / max(steps, 1), 5),
                  "seconds": round(epoch_times[-1], 3)}
        if validate is not None:
            value = float(validate(embed(model, graph, data.users, data.items, device)))
            record["val"] = round(value, 5)
            if value > best_value:
                best_value, best_epoch = value, epoch
                best_state = copy.deepcopy(model.state_dict())
        else:
            best_value, best_epoch, best_state = float("nan"), epoch, None
        history.append(record)
        bar.set_postfix(loss=record["loss"], val=record.get("val", "-"), best=best_epoch)
        log.info("%s epoch %d: %s", desc, epoch, record)
        if validate is not None and epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model = model.cpu()
    graph_cpu = _to_device(graph, "cpu")
    embeddings = embed(model, graph_cpu, data.users, data.items, "cpu")
    return FitResult(model, embeddings, best_epoch, best_value, history,
                     float(np.median(epoch_times)) if epoch_times else 0.0)


def _to_device(graph: KGGraph, device) -> KGGraph:
    return KGGraph(graph.counts, graph.offsets, graph.kg_edge_index.to(device),
                   graph.kg_edge_type.to(device),
                   {k: v.to(device) for k, v in graph.features.items()})
