"""Tests of the trajectory measurements (closed forms and exact toy facts)."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import toy
from diffgen_lib.measure import metrics, trajectories


def test_auc_closed_forms():
    assert trajectories.auc([3, 4, 5], [0, 1, 2]) == 1.0
    assert trajectories.auc([0, 1], [2, 3]) == 0.0
    assert trajectories.auc([1, 1], [1, 1]) == 0.5
    # of the 4 pairs none wins and one ties: 0.5 / 4
    assert trajectories.auc([1, 2], [2, 3]) == pytest.approx(0.125)


def test_normalized_distance_zero_at_training_points_and_one_for_unit_noise():
    train = torch.eye(4, dtype=torch.float64) * 10
    assert np.allclose(trajectories.normalized_nn_distance(train, train, 0.5), 0)
    x = train[:1] + 0.5 * torch.tensor([[0.0, 1.0, 1.0, 0.0]], dtype=torch.float64) * math.sqrt(2)
    # ||x - y_0|| = 0.5 sqrt(2) sqrt(2) = 1 = sigma sqrt(D) with sigma 0.5, D 4
    assert trajectories.normalized_nn_distance(x, train, 0.5)[0] == pytest.approx(1.0)


def test_noisy_training_samples_overlap_themselves_and_val_does_not_at_small_sigma():
    rng = np.random.default_rng(0)
    train = torch.from_numpy(rng.normal(size=(40, 8)))
    val = torch.from_numpy(rng.normal(size=(40, 8)))
    sig = np.array([0.05, 50.0])
    # trajectory states that ARE noisy training samples (other noise): overlap ~ 0.5
    states = torch.stack([trajectories.noisy_samples(train, s, 200, seed=99) for s in sig])
    st = trajectories.trajectory_stats(states, sig, train, val, n_ref=200)
    assert abs(st.auc_trajectory[0] - 0.5) < 0.1
    assert abs(st.auc_copier[0] - 0.5) < 0.1 and abs(st.auc_copier[1] - 0.5) < 0.1  # the copier: ~0.5 always
    assert st.auc_val[0] > 0.99            # at small sigma val samples are far less dense
    assert abs(st.auc_val[1] - 0.5) < 0.1  # at large sigma everything overlaps
    assert st.values["train"]["max_weight"][0].min() > 0.99  # posterior on its own training point
    assert np.allclose(st.values["train"]["nn_dist"][0].mean(), 1.0, atol=0.15)


def test_bootstrap_spearman():
    a = np.arange(30.0)
    rho, lo, hi = trajectories.bootstrap_spearman(a, a ** 3)
    assert rho == pytest.approx(1.0) and lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=200), rng.normal(size=200)
    rho, lo, hi = trajectories.bootstrap_spearman(x, y, seed=1)
    assert lo < rho < hi and lo < 0 < hi


def test_toy_optimal_denoiser_trajectories_end_on_training_points():
    train, _ = toy.circle_data(20)
    tr = trajectories.toy_trajectories(train, 0.0, 30, seed=0)
    assert tr["states"].shape == (toy.TRAJECTORY_STEPS, 30, 2)
    ratios = metrics.memorization_ratio(tr["final"], train)
    assert metrics.copy_fraction(ratios) == 1.0
    # with a large model error the samples do not land on training points
    tr = trajectories.toy_trajectories(train, 2.2, 30, seed=0)
    assert metrics.copy_fraction(metrics.memorization_ratio(tr["final"], train)) < 0.5


def _stats(auc_t, auc_v):
    k = len(auc_v)
    return trajectories.TrajectoryStats(np.ones(k), {}, np.asarray(auc_t, float), np.asarray(auc_v, float),
                                        np.full(k, 0.5))


def test_band_steps_select_unsaturated_noise_levels():
    auc_val = np.array([0.5, 0.55, 0.6, 0.8, 0.95, 0.99, 1.0])
    assert list(trajectories.band_steps(auc_val)) == [2, 3, 4]           # inclusive ends
    assert list(trajectories.band_steps(auc_val, (0.7, 0.9))) == [3]
    assert len(trajectories.band_steps(np.ones(5))) == 0                 # all saturated: none
    with pytest.raises(ValueError):
        trajectories.band_steps(auc_val, (0.9, 0.6))


def test_judge_steps_over_draws():
    draws = [_stats([0.9, 0.7, 1.0], [0.8, 0.8, 1.0]), _stats([0.92, 0.72, 1.0], [0.8, 0.8, 1.0]),
             _stats([0.88, 0.69, 1.0], [0.81, 0.79, 1.0])]
    steps = trajectories.band_steps(np.mean([d.auc_val for d in draws], 0))
    assert list(steps) == [0, 1]
    excess = trajectories.excess_auc(draws, steps)
    assert excess.shape == (3, 2) and excess[0, 0] == pytest.approx(0.1)
    # step 0 passes (excess ~ +0.1), step 1 fails (~ -0.1): the claim takes the weaker verdict
    v = trajectories.judge_steps(excess, steps, ">=", -0.05)
    assert v.verdicts == ["PASS", "FAIL"] and v.verdict == "FAIL" and v.deciding == 1
    assert v.lo[1] <= v.mean[1] <= v.hi[1] < -0.05
    ok = trajectories.judge_steps(excess[:, :1], steps[:1], ">=", -0.05)
    assert ok.verdict == "PASS" and ok.deciding == 0
    straddle = trajectories.judge_steps([[-0.1], [0.0], [-0.02]], [4], ">=", -0.05)
    assert straddle.verdict == "INCONCLUSIVE"
    none = trajectories.judge_steps(np.empty((3, 0)), [], ">=", -0.05)
    assert none.verdict == "INCONCLUSIVE" and none.deciding is None and len(none.steps) == 0


def test_circle_reference_points_cover_the_circle():
    pts = toy.circle_points(400, seed=1)
    assert pts.shape == (400, 2) and np.allclose(np.linalg.norm(pts, axis=1), 10)
    assert np.array_equal(pts, toy.circle_points(400, seed=1))
    angles = np.arctan2(pts[:, 1], pts[:, 0])
    assert np.histogram(angles, bins=8, range=(-np.pi, np.pi))[0].min() > 25
