"""Every baseline on a tiny hand-made matrix whose right answer is known.

Two user groups and two item blocks: users 0-5 touched items 0-4, users 6-11 items 5-9; each
user's training rows are 4 of the 5 items of their block, the fifth (item u % 5 of the block)
is held out for validation and test. Item 10 (text like block A) and item 11 (text like block B)
are cold: no training rows. The right top-1 among unseen items is the user's held-out block item,
and a cold item should rank high for the group whose items share its text.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn.eval.baselines import BASELINES, baseline_class, make_baselines
from gnn.eval.baselines.base import TrainData
from gnn.eval.split import manual_split

N_USERS, N_ITEMS, TEXT_DIM = 12, 12, 16
GROUP_A, GROUP_B = np.arange(6), np.arange(6, 12)


def held_out(user: int) -> int:
    block = 0 if user < 6 else 5
    return block + user % 5


@pytest.fixture(scope="module")
def data() -> TrainData:
    train_u, train_i = [], []
    for u in range(N_USERS):
        block = range(0, 5) if u < 6 else range(5, 10)
        for i in block:
            if i != held_out(u):
                train_u.append(u)
                train_i.append(i)
    held = [held_out(u) for u in range(N_USERS)]
    cold_rows = ([0, 1, 6, 7], [10, 10, 11, 11])
    split = manual_split(
        N_USERS, N_ITEMS, (np.array(train_u), np.array(train_i)),
        (np.arange(N_USERS), np.array(held)),
        (np.r_[np.arange(N_USERS), cold_rows[0]], np.r_[held, cold_rows[1]]),
        test_cold_items=[10, 11],
    )
    rng = np.random.default_rng(0)
    text = rng.normal(0, 0.05, (N_ITEMS, TEXT_DIM))
    text[[*range(5), 10], 0] += 1.0
    text[[*range(5, 10), 11], 1] += 1.0
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return TrainData.build(split, text.astype(np.float32), None, k=1, seed=0)


def fresh(data: TrainData) -> TrainData:
    """Same split and text, without artefacts shared by earlier models (each test fits its own)."""
    return TrainData.build(data.split, data.item_text, None, k=1, seed=0)


def unseen_scores(model, data) -> torch.Tensor:
    scores = model.score(torch.arange(N_USERS)).clone()
    scores[torch.from_numpy(data.matrix.toarray() > 0)] = float("-inf")
    return scores


def assert_recovers_blocks(model, data):
    scores = unseen_scores(model, data)
    scores[:, 10:] = float("-inf")  # warm items only
    assert scores.argmax(1).tolist() == [held_out(u) for u in range(N_USERS)]


FAST_MF = {"dim": 8, "lr": 0.05, "reg": 1e-3, "max_epochs": 150, "patience": 40}


@pytest.mark.parametrize("name, options", [
    ("item-knn", {}),
    ("user-knn", {}),
    ("ease", {"lambdas": (1.0, 10.0)}),
    ("mf-bpr", FAST_MF),
    ("lightgcn", {"dim": 8, "lr": 0.05, "max_epochs": 100, "patience": 40}),
    ("text-knn", {}),
])
def test_collaborative_and_text_baselines_recover_the_blocks(data, name, options):
    model = baseline_class(name)(**options).fit(fresh(data))
    assert_recovers_blocks(model, data)
    assert model.score(torch.tensor([0, 7])).shape == (2, N_ITEMS)


def test_popularity_scores_training_counts(data):
    model = baseline_class("popularity")().fit(data)
    counts = np.bincount(data.split.train.items, minlength=N_ITEMS)
    assert model.score(torch.tensor([3, 9])).numpy().tolist() == [counts.tolist()] * 2


def test_ease_weights_are_block_diagonal(data):
    model = baseline_class("ease")(lambdas=(10.0,)).fit(fresh(data))
    weights = model._weights.numpy()
    assert np.abs(weights[:5, 5:10]).max() < 1e-6 and np.abs(weights[5:10, :5]).max() < 1e-6
    assert np.all(np.diag(weights) == 0)


def test_content_knn_maps_a_cold_item_to_its_text_neighbours(data):
    from gnn.eval.baselines.content_knn import text_neighbours
    from gnn.eval.baselines.mf_bpr import bpr_factors

    local = fresh(data)
    model = baseline_class("content-knn")(neighbours=(3,), mf_options=FAST_MF).fit(local)
    _, mf_items, _ = bpr_factors(local, **FAST_MF)
    warm = torch.from_numpy(local.split.warm_items)
    near = text_neighbours(torch.from_numpy(local.item_text), torch.tensor([10, 11]), warm, 3)
    assert set(near[0].tolist()) <= set(range(5)) and set(near[1].tolist()) <= set(range(5, 10))
    assert torch.allclose(model._items[10], mf_items[near[0]].mean(0))
    assert torch.equal(model._items[:10], mf_items[:10])  # warm items keep their MF vectors
    scores = model.score(torch.arange(N_USERS))
    assert bool((scores[GROUP_A, 10] > scores[GROUP_A, 11]).all())
    assert bool((scores[GROUP_B, 11] > scores[GROUP_B, 10]).all())


def test_dropoutnet_scores_cold_items_from_text(data):
    model = baseline_class("dropoutnet")(hidden=32, out=8, lr=1e-2, max_epochs=60, patience=60,
                                         mf_options=FAST_MF).fit(fresh(data))
    scores = model.score(torch.arange(N_USERS))
    assert bool((scores[GROUP_A, 10] > scores[GROUP_A, 11]).all())
    assert bool((scores[GROUP_B, 11] > scores[GROUP_B, 10]).all())


def test_text_knn_ranks_the_cold_item_of_the_users_topic_first(data):
    scores = baseline_class("text-knn")().fit(data).score(torch.arange(N_USERS))
    assert bool((scores[GROUP_A, 10] > scores[GROUP_A, 11]).all())


def test_registry_builds_every_baseline_with_a_distinct_name():
    models = make_baselines()
    assert [m.name for m in models] == list(BASELINES)
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baselines(["nope"])


def test_learned_baselines_are_reproducible(data):
    a = baseline_class("mf-bpr")(**FAST_MF).fit(fresh(data)).score(torch.arange(3))
    b = baseline_class("mf-bpr")(**FAST_MF).fit(fresh(data)).score(torch.arange(3))
    assert torch.equal(a, b)


def _user_knn_by_hand(history, matrix, k, shrink, users):
    """Brute force: every other user's shrunk cosine, the k best positive ones, their rows
    summed with those weights."""
    out = np.zeros((len(history), matrix.shape[1]))
    for r, row in enumerate(history):
        sims = []
        for v, other in enumerate(matrix):
            if users is not None and v == users[r]:
                continue
            dot = float(row @ other)
            if dot > 0:
                denom = np.sqrt(row.sum()) * np.sqrt(other.sum()) + shrink
                sims.append((-dot / denom, v))
        for neg, v in sorted(sims)[:k]:
            out[r] += -neg * matrix[v]
    return out


# k = 400 is above every history's number of co-users; k = 2 and 3 cut through equal
# similarities, where the lower user index wins, as in the brute force's sort
@pytest.mark.parametrize("k, shrink, known", [(400, 0.0, True), (400, 10.0, True),
                                              (400, 1.0, False), (2, 0.0, True), (3, 0.0, False),
                                              (3, 1.0, True)])
def test_user_knn_scores_are_the_brute_force_ones(k, shrink, known):
    import scipy.sparse as sp

    from gnn.eval.baselines.user_knn import user_knn_scores

    rng = np.random.default_rng(int(shrink))
    dense = (rng.random((40, 30)) < 0.15).astype(np.float32)  # many equal similarities: ties
    matrix = sp.csr_matrix(dense)
    users = np.array([0, 5, 17, 39]) if known else None
    history = dense[users] if known else (rng.random((3, 30)) < 0.2).astype(np.float32)
    norms = torch.from_numpy(np.sqrt(dense.sum(1)).astype(np.float32))
    got = user_knn_scores(sp.csr_matrix(history), matrix, matrix.T.tocsr(), norms, k, shrink,
                          None if users is None else torch.from_numpy(users))
    np.testing.assert_allclose(got.numpy(), _user_knn_by_hand(history, dense, k, shrink, users),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k, shrink", [(2, 0.0), (3, 1.0), (400, 0.0)])
def test_user_knn_row_is_the_dense_row_bit_for_bit(k, shrink):
    """A request's sparse one-row path (`user_knn_row`) keeps the same neighbours, ties
    included, and sums them in the same order as the batch path used in evaluation."""
    import scipy.sparse as sp

    from gnn.eval.baselines.user_knn import user_knn_row, user_knn_scores

    rng = np.random.default_rng(7)
    dense = (rng.random((60, 30)) < 0.15).astype(np.float32)
    matrix = sp.csr_matrix(dense)
    norms = torch.from_numpy(np.sqrt(dense.sum(1)).astype(np.float32))
    rows = [(dense[u], u) for u in range(0, 60, 7)] + [((rng.random(30) < 0.2).astype(np.float32),
                                                       None) for _ in range(4)]
    for row, user in rows:
        history = sp.csr_matrix(row[None])
        users = None if user is None else torch.tensor([user])
        want = user_knn_scores(history, matrix, matrix.T.tocsr(), norms, k, shrink, users)[0]
        got = user_knn_row(history, matrix, matrix.T.tocsr(), norms.numpy(), k, shrink, user)
        assert torch.equal(torch.from_numpy(got.toarray()[0]), want)
    with pytest.raises(ValueError, match="one history"):
        user_knn_row(matrix[:2], matrix, matrix.T.tocsr(), norms, k, shrink)
