"""Tests of the calibrated inference statistics: reference draws, null, copier, Gaussian, index."""

import numpy as np
import pytest
import torch

from diffgen_lib import features
from diffgen_lib.measure import calibration, metrics, references, statistics
from synthetic import gaussian_mixture


def make_calibration(n_train=120, n_val=300, n_gen=150, n_ref=200, n_draws=5):
    tr, ltr = gaussian_mixture(n_train, 1)
    va, lva = gaussian_mixture(n_val, 2)
    cal = calibration.Calibration(tr, ltr, va, lva, {"pixels": features.PixelFeatures()}, n_gen, n_ref, n_draws)
    return cal, tr, va


def test_copier_matches_full_train_reference():
    cal, tr, va = make_calibration()
    stats = cal.calibration_statistics()
    np.testing.assert_allclose(stats["copier"]["pixels/nn_gap"], 1.0)  # distance 0 to the train reference
    np.testing.assert_allclose(stats["copier"]["copy_fraction"], 1.0)
    assert cal.dilution == 1.0
    assert np.all(stats["copier"]["pixels/fd_diff"] > 0)
    assert np.all(stats["copier"]["pixels/nn_cos"] > 0)


def test_null_is_about_zero_and_copier_one():
    cal, tr, va = make_calibration()
    stats = cal.calibration_statistics()
    for stat in ("pixels/nn_gap", "pixels/fd_diff", "pixels/nn_cos"):
        null, copier = stats["null"][stat], stats["copier"][stat]
        assert abs(null.mean()) < 0.25 * abs(copier.mean()), stat
    np.testing.assert_allclose(stats["null"]["copy_fraction"], 0.0)
    # fresh data from the same distribution has index about 0; copies (another draw) about 1
    fresh, _ = gaussian_mixture(cal.n_gen, 99)
    m_fresh = cal.model_statistics(fresh)
    copies = references.copier_images(tr, cal.n_gen, seed=5)
    m_copy = cal.model_statistics(copies)
    for stat in ("pixels/nn_gap", "pixels/fd_diff"):
        i_fresh = statistics.memorization_index(m_fresh[stat], stats["null"][stat], stats["copier"][stat])
        i_copy = statistics.memorization_index(m_copy[stat], stats["null"][stat], stats["copier"][stat])
        assert abs(i_fresh.mean()) < 0.2, (stat, i_fresh)
        assert abs(i_copy.mean() - 1) < 0.2, (stat, i_copy)


def test_half_copies_score_about_half():
    cal, tr, va = make_calibration()
    stats = cal.calibration_statistics()
    fresh, _ = gaussian_mixture(cal.n_gen // 2, 77)
    half = torch.cat([fresh, references.copier_images(tr, cal.n_gen - len(fresh), seed=8)])
    m = cal.model_statistics(half)
    idx = statistics.memorization_index(m["pixels/nn_gap"], stats["null"]["pixels/nn_gap"],
                                         stats["copier"]["pixels/nn_gap"])
    assert 0.3 < idx.mean() < 0.7
    assert m["copy_fraction"][0] == pytest.approx(0.5)


def test_statistics_match_direct_computation():
    cal, tr, va = make_calibration(n_draws=2)
    x, _ = gaussian_mixture(cal.n_gen, 11)
    st = cal.statistics(cal.features(x), draws=[1])
    d = cal.draws[1]
    dtr = metrics.nearest_neighbors(x, tr[d.train_ref], k=1)[0][:, 0].mean()
    dva = metrics.nearest_neighbors(x, va[d.val_ref], k=1)[0][:, 0].mean()
    assert st["pixels/nn_gap"][0] == pytest.approx((dva - dtr) / dva, rel=1e-4)  # float32 there
    g = metrics.inference_gap(x, tr[d.train_ref], va[d.val_ref], [np.arange(len(d.train_ref))])
    assert st["pixels/fd_gap"][0] == pytest.approx(g.gap, rel=1e-9)
    assert st["pixels/fd_diff"][0] == pytest.approx(g.fd_val - g.fd_train, rel=1e-9)
    cos = (metrics.nn_cosine_similarity(x, tr[d.train_ref]).mean()
           - metrics.nn_cosine_similarity(x, va[d.val_ref]).mean())
    assert st["pixels/nn_cos"][0] == pytest.approx(cos, abs=1e-6)


def test_reconstruction_statistics_identity_denoiser_at_zero_noise():
    # D = identity at sigma ~ 0: the reconstructions are the images, so the statistics are the
    # null's and the copier's own (partial inference is judged on the nearest-neighbour statistics)
    cal, tr, va = make_calibration(n_draws=2)
    rec = cal.reconstruction_statistics(lambda x, s: x, 0.0)
    plain = cal.calibration_statistics()
    for name in ("null", "copier"):
        assert "pixels/fd_gap" not in rec[name]
        for stat in ("pixels/nn_gap", "pixels/nn_cos", "pixels/nn_val"):
            np.testing.assert_allclose(rec[name][stat], plain[name][stat], rtol=1e-6, atol=1e-9)


