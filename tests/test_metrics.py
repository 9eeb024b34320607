"""Metrics against closed forms: FD, nearest neighbours, memorization ratio, the denoising gap."""

import numpy as np
import pytest
import torch

from diffgen_lib import analytic, metrics

torch.set_num_threads(2)


def test_fd_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 6))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_two_gaussians_matches_the_formula():
    rng = np.random.default_rng(1)
    d = 4
    a1, a2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a1 @ a1.T + 0.1 * np.eye(d), a2 @ a2.T + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    from scipy.linalg import sqrtm

    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert metrics.gaussian_frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)
    # diagonal covariances: sum (sqrt(a) - sqrt(b))^2
    da, db = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    fd = metrics.gaussian_frechet_distance(np.zeros(2), np.diag(da), np.ones(2), np.diag(db))
    assert fd == pytest.approx(2 + np.sum((np.sqrt(da) - np.sqrt(db)) ** 2))
    # and from samples, approximately
    xa = rng.multivariate_normal(mu1, s1, size=200_000)
    xb = rng.multivariate_normal(mu2, s2, size=200_000)
    assert metrics.frechet_distance(xa, xb) == pytest.approx(ref, rel=0.03)


def test_fd_handles_singular_covariances_and_rejects_non_psd():
    rng = np.random.default_rng(2)
    a = np.zeros((100, 5))
    a[:, :2] = rng.normal(size=(100, 2))  # rank 2 in 5 dimensions
    b = a + 0.5
    assert metrics.frechet_distance(a, b) == pytest.approx(5 * 0.25, rel=1e-6)
    bad = -np.eye(3)
    with pytest.raises(ValueError, match="complex"):
        metrics.gaussian_frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), bad)


def test_nearest_neighbors_exact_against_brute_force():
    rng = np.random.default_rng(3)
    q, r = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(101, 5)).astype(np.float32)
    d, i = metrics.nearest_neighbors(q, r, k=3, chunk=8)
    full = np.linalg.norm(q[:, None] - r[None], axis=2)
    assert np.array_equal(i, np.argsort(full, axis=1)[:, :3])
    assert np.allclose(d, np.sort(full, axis=1)[:, :3], atol=1e-5)
    cos, ci = metrics.nearest_neighbors(q, r, k=1, metric="cosine")
    qn, rn = q / np.linalg.norm(q, axis=1, keepdims=True), r / np.linalg.norm(r, axis=1, keepdims=True)
    assert np.array_equal(ci[:, 0], np.argmax(qn @ rn.T, axis=1))
    assert np.allclose(metrics.nn_cosine_similarity(q, r), (qn @ rn.T).max(1), atol=1e-6)


def test_memorization_ratio_zero_for_copies_and_copy_fraction():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(50, 16)).astype(np.float32)
    ratios = metrics.memorization_ratio(train[:10], train)
    assert np.all(ratios == 0)
    far = rng.normal(size=(10, 16)).astype(np.float32) * 5
    both = np.concatenate([metrics.memorization_ratio(far, train), ratios])
    assert metrics.copy_fraction(both) == pytest.approx(0.5)


def test_matched_subsets_keep_class_counts_and_are_disjoint():
    train_labels = np.repeat(np.arange(3), 40)
    val_labels = np.array([0] * 5 + [1] * 10 + [2] * 3)
    subsets = metrics.matched_subsets(train_labels, val_labels, n_subsets=3, seed=0)
    for s in subsets:
        assert np.array_equal(np.bincount(train_labels[s], minlength=3), [5, 10, 3])
    assert len(set(np.concatenate(subsets))) == 3 * 18
    with pytest.raises(ValueError, match="class"):
        metrics.matched_subsets(train_labels, np.zeros(41, int), 1)


def test_inference_gap_protocol_on_known_cases():
    rng = np.random.default_rng(5)
    train, val = rng.normal(size=(400, 3)), rng.normal(size=(100, 3))
    subsets = metrics.matched_subsets(np.zeros(400, int), np.zeros(100, int), 3)
    r = metrics.inference_gap(val, train, val, subsets)       # a generator that returns the val set
    assert r.fd_val == pytest.approx(0, abs=1e-9) and r.gap == pytest.approx(-1)
    assert r.fd_train == pytest.approx(r.fd_train_vs_val)
    assert r.fd_train_vs_train > 0
    r1 = metrics.inference_gap(train[subsets[0]], train, val, subsets[:1])  # one that copies train_0
    assert r1.fd_train == pytest.approx(0, abs=1e-9) and np.isnan(r1.fd_train_vs_train)


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_denoising_errors_fixed_noise_and_optimal_denoiser_memorizes():
    g = torch.Generator().manual_seed(0)
    train, val = torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g)
    den = lambda x, s: analytic.optimal_denoiser(x, s, train)
    sig = [0.01, 0.5, 100.0]
    e_train = metrics.denoising_errors(den, train, sig, noise_seed=1)
    again = metrics.denoising_errors(den, train, sig, noise_seed=1, batch_size=7)
    assert np.allclose(e_train, again)  # same noise whatever the batching
    e_val = metrics.denoising_errors(den, val, sig, noise_seed=1)
    assert e_train[0].mean() < 1e-6 and e_val[0].mean() > 0.5  # memorizer: perfect on train only
    gap = metrics.relative_gap(e_val.mean(1), e_train.mean(1))
    assert gap[1] > 1  # at intermediate sigma the memorizer is far better on its training set


def test_overfitting_threshold_picks_validation_minimum():
    val = np.array([[3.0, 2.0], [1.0, 2.5], [2.0, 1.0]])
    train = np.array([[1.0, 1.0], [0.5, 1.0], [0.25, 0.5]])
    thr = metrics.overfitting_threshold(val, train)
    assert np.allclose(thr, [(1.0 - 0.5) / 0.5, (1.0 - 0.5) / 0.5])
