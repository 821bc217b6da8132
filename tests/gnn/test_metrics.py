"""Recall@k, NDCG@k, coverage and novelty against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gnn.eval.metrics import ranking_metrics, self_information, tie_order
from gnn.eval.protocol import Evaluator
from gnn.eval.split import make_split, manual_split

# 5 users x 6 items, k = 3. Distinct scores, so ties play no part.
SCORES = torch.tensor([
    [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],   # u0: 0 excluded -> top3 1,2,3; targets {2,4}
    [0.1, 0.2, 0.35, 0.3, 0.05, 0.6],  # u1: top3 5,2,3; target {5} (fewer test items than k)
    [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],   # u2: its only target (1) is excluded -> not evaluated
    [0.9, 0.8, 0.7, 0.1, 0.0, 0.05],  # u3: top3 0,1,2; target {3} ranked 4th -> miss
    [0.9, 0.8, 0.7, 0.6, 0.1, 0.0],   # u4: top3 0,1,2; targets {0,1,2,3} (more than k)
])
TARGETS = sp.csr_matrix(np.array([
    [0, 0, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 1],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0],
    [1, 1, 1, 1, 0, 0],
]))
EXCLUDE = sp.csr_matrix(np.array([
    [1, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
]))
L2_3 = 1 / math.log2(3)  # discount of rank 1 (0-based)
L2_4 = 1 / math.log2(4)


def score_fn(users):
    return SCORES[users]


def test_recall_and_ndcg_by_hand():
    m = ranking_metrics(score_fn, TARGETS, EXCLUDE, k=3)
    assert m.users == 4 and m.user_index.tolist() == [0, 1, 3, 4]
    # u0: hit at rank 1 of 2 targets; u1: hit at rank 0; u3: miss; u4: 3 hits of 4 targets
    assert m.recall_per_user.tolist() == pytest.approx([1 / 2, 1.0, 0.0, 3 / 4])
    assert m.ndcg_per_user.tolist() == pytest.approx([L2_3 / (1 + L2_3), 1.0, 0.0, 1.0])
    assert m.recall == pytest.approx((0.5 + 1 + 0 + 0.75) / 4)
    assert m.ndcg == pytest.approx((L2_3 / (1 + L2_3) + 1 + 0 + 1) / 4)


def test_coverage_and_novelty_by_hand():
    counts = np.array([3, 1, 0, 2, 0, 0])  # 6 training rows over 6 items
    m = ranking_metrics(score_fn, TARGETS, EXCLUDE, k=3, train_counts=counts)
    # lists: u0 {1,2,3}, u1 {5,2,3}, u3 {0,1,2}, u4 {0,1,2} -> items 0,1,2,3,5 of 6
    assert m.coverage == pytest.approx(5 / 6)
    # p = (count + 1) / (6 + 6): item0 4/12, item1 2/12, item2 1/12, item3 3/12, item5 1/12
    info = {0: math.log2(3), 1: math.log2(6), 2: math.log2(12), 3: math.log2(4), 5: math.log2(12)}
    shown = [1, 2, 3, 5, 2, 3, 0, 1, 2, 0, 1, 2]
    assert m.novelty == pytest.approx(sum(info[i] for i in shown) / 12)
    assert self_information(counts)[4] == pytest.approx(math.log2(12))


def test_candidates_restrict_targets_and_lists():
    candidates = np.array([False, False, True, False, True, False])
    m = ranking_metrics(score_fn, TARGETS, EXCLUDE, k=3, candidates=candidates)
    # u0 (targets 2, 4) and u4 (target 2 of 0..3) have reachable targets; every list is
    # [2, 4] (2 candidates < k): u0 hits both, u4 hits 2 at rank 0
    assert m.user_index.tolist() == [0, 4]
    assert m.recall_per_user.tolist() == [1.0, 1.0]
    assert m.ndcg_per_user.tolist() == pytest.approx([1.0, 1.0])
    assert m.coverage == pytest.approx(1.0)


def test_minus_inf_scores_never_count_as_hits():
    def blind(users):
        out = SCORES[users].clone()
        out[:, 5] = float("-inf")
        return out

    m = ranking_metrics(blind, TARGETS, EXCLUDE, k=3)
    assert m.recall_per_user[1] == 0.0  # u1's only target got -inf


def test_user_with_unreachable_targets_only_changes_nothing():
    without_u2 = TARGETS.tolil()
    without_u2[2, 1] = 0
    a = ranking_metrics(score_fn, TARGETS, EXCLUDE, k=3)
    b = ranking_metrics(score_fn, without_u2.tocsr(), EXCLUDE, k=3)
    assert (a.recall, a.ndcg, a.users) == (b.recall, b.ndcg, b.users)


def test_bad_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        ranking_metrics(lambda u: torch.full((len(u), 6), float("nan")), TARGETS, k=3)
    with pytest.raises(ValueError, match="shape"):
        ranking_metrics(lambda u: torch.zeros(len(u), 5), TARGETS, k=3)


def test_no_user_gives_none():
    m = ranking_metrics(score_fn, sp.csr_matrix((5, 6)), k=3)
    assert m.users == 0 and m.recall is None and m.to_dict()["ndcg"] is None


def test_ties_are_broken_in_a_fixed_random_order_not_by_index():
    n = 200
    targets = sp.csr_matrix(np.eye(1, n, n - 1))  # the last item is the only target
    def flat(users):
        return torch.zeros(len(users), n)

    by_seed = [ranking_metrics(flat, targets, k=100, tie_seed=s).recall for s in range(20)]
    assert 0 < sum(by_seed) < 20  # sometimes in the top half, sometimes not
    assert by_seed == [ranking_metrics(flat, targets, k=100, tie_seed=s).recall for s in range(20)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tie_order_does_not_favour_the_splits_cold_items(seed):
    # every item interacted: the split draws its cold items from a permutation of all items, so
    # a tie order drawn from the same seed the same way would put exactly those items first
    n_items, n_users = 500, 50
    rng = np.random.default_rng(99)
    users = np.r_[np.arange(n_items) % n_users, rng.integers(0, n_users, 2000)]
    items = np.r_[np.arange(n_items), rng.integers(0, n_items, 2000)]
    split = make_split(users, items, n_users, n_items, seed=seed)
    cold = np.r_[split.val.cold_items, split.test.cold_items]
    first = tie_order(n_items, seed)[: len(cold)]
    assert np.isin(first, cold).mean() < 0.35  # about the cold share (0.2), not 1.0
    assert tie_order(n_items, None).tolist() == list(range(n_items))


def test_evaluator_settings_and_exclusions():
    # 2 users, 6 items: train u0{0}, u1{1}; val u0{2 (cold val)}, u1{0}; test u0{3 (cold test), 1},
    # u1{4 (cold test)}; item 5 never seen.
    split = manual_split(2, 6, ([0, 1], [0, 1]), ([0, 1], [2, 0]), ([0, 0, 1], [3, 1, 4]),
                         val_cold_items=[2], test_cold_items=[3, 4])
    ev = Evaluator(split, k=2)
    assert ev.candidates("test", "cold").tolist() == [False, False, False, True, True, False]
    assert ev.candidates("test", "warm").tolist() == [True, True, False, False, False, False]
    assert ev.exclude("test").toarray().tolist() == [[1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]]
    prefer_high = torch.tensor([[0.0, 1, 2, 3, 4, 5]])
    res = ev.run(lambda u: prefer_high.expand(len(u), -1), "test")
    # overall u0: list [5, 4] -> no hit of {3, 1}; u1: list [5, 4] -> hit 4 at rank 1
    assert res["overall"].recall_per_user.tolist() == pytest.approx([0.0, 1.0])
    assert res["overall"].ndcg_per_user.tolist() == pytest.approx([0.0, L2_3])
    # cold: candidates {3, 4}: u0 list [4, 3] -> hit 3 at rank 1; u1 hit 4 at rank 0
    assert res["cold"].ndcg_per_user.tolist() == pytest.approx([L2_3, 1.0])
    # warm: candidates {0, 1}; u0 target 1 (0 excluded) -> rank 0; u1 has no warm test row
    assert res["warm"].user_index.tolist() == [0] and res["warm"].recall == 1.0
    assert ev.figure(lambda u: prefer_high.expand(len(u), -1), "cold", "val", "recall") == 1.0


def test_selection_figure_is_the_named_metric_or_the_sum():
    # the same 2-user split: overall test recall per user [0, 1], NDCG [0, 1/log2(3)]
    split = manual_split(2, 6, ([0, 1], [0, 1]), ([0, 1], [2, 0]), ([0, 0, 1], [3, 1, 4]),
                         val_cold_items=[2], test_cold_items=[3, 4])
    ev = Evaluator(split, k=2)
    prefer_high = lambda u: torch.tensor([[0.0, 1, 2, 3, 4, 5]]).expand(len(u), -1)  # noqa: E731
    assert ev.figure(prefer_high, "overall", "test", "recall") == pytest.approx(0.5)
    assert ev.figure(prefer_high, "overall", "test", "ndcg") == pytest.approx(L2_3 / 2)
    assert ev.figure(prefer_high, "overall", "test", "recall+ndcg") == pytest.approx(
        0.5 + L2_3 / 2)
    with pytest.raises(ValueError, match="unknown metric 'map'"):
        ev.figure(prefer_high, "overall", "test", "map")
