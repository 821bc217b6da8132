"""Shared training helpers of the learned baselines: BPR triples and validation early stopping."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator

import numpy as np
import torch

from gnn.eval.baselines.base import TrainData

log = logging.getLogger(__name__)


def bpr_triples(
    data: TrainData, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of (user, positive item, negative item) batches over the training rows.

    Every training row appears once, in random order; its negative is drawn uniformly from the
    warm items (models never see cold items in training). A negative that happens to be a
    positive of the user is kept (rare; the usual BPR approximation).

    Yields:
        Three int64 tensors [b]: users, positive items, negative items.
    """
    users = torch.from_numpy(data.split.train.users)
    items = torch.from_numpy(data.split.train.items)
    warm = torch.from_numpy(data.split.warm_items)
    order = torch.randperm(len(users), generator=generator)
    negatives = warm[torch.randint(len(warm), (len(users),), generator=generator)]
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        yield users[rows], items[rows], negatives[rows]


def train_with_early_stopping(
    module: torch.nn.Module,
    run_epoch: Callable[[int], float],
    validate: Callable[[], float],
    *,
    max_epochs: int,
    patience: int,
    name: str,
) -> tuple[int, float]:
    """Runs epochs until validation stops improving for ``patience`` epochs; keeps the best state.

    Args:
        module: The model whose ``state_dict`` is restored to its best epoch at the end.
        run_epoch: Trains one epoch (argument: epoch number from 1), returns the mean loss.
        validate: The validation figure to maximise after an epoch.
        max_epochs: Upper bound of epochs.
        patience: Epochs without improvement before stopping.
        name: Model name for the log lines.

    Returns:
        (best epoch, best validation figure); epoch 0 means no epoch beat the initial model.
    """
    best_epoch, best_value = 0, validate()
    best_state = copy.deepcopy(module.state_dict())
    for epoch in range(1, max_epochs + 1):
        loss = run_epoch(epoch)
        value = validate()
        log.info("%s epoch %3d: loss %.4f, val %.4f", name, epoch, loss, value)
        if value > best_value:
            best_epoch, best_value = epoch, value
            best_state = copy.deepcopy(module.state_dict())
        elif epoch - best_epoch >= patience:
            break
    module.load_state_dict(best_state)
    return best_epoch, best_value


def optimise(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One gradient step on ``loss``; returns its value for the epoch's mean loss."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def zero_unseen(item_vectors: torch.Tensor, data: TrainData) -> torch.Tensor:
    """A copy of [n_items, d] item vectors with zero rows for items without training rows."""
    out = item_vectors.detach().clone()
    unseen = np.ones(data.n_items, dtype=bool)
    unseen[data.split.warm_items] = False
    out[torch.from_numpy(unseen)] = 0.0
    return out
