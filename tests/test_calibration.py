"""Tests of the calibrated inference statistics: reference draws, null, copier, Gaussian, index."""

import numpy as np
import pytest
import torch

from diffgen_lib import features
from diffgen_lib.measure import calibrated_run, calibration, exchange, intervals, metrics, references, statistics


def mixture(n, seed, d=16, k=5):
    """n points of a k-component Gaussian mixture in d dimensions, as (n, 1, 4, 4) images, with labels."""
    g = torch.Generator().manual_seed(1234)  # the same centres for every call
    centres = torch.randn(k, d, generator=g) * 2.0
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % k
    x = centres[labels] + 0.6 * torch.randn(n, d, generator=g)
    return x.reshape(n, 1, 4, 4), labels


def make_calibration(n_train=120, n_val=300, n_gen=150, n_ref=200, n_draws=5):
    tr, ltr = mixture(n_train, 1)
    va, lva = mixture(n_val, 2)
    cal = calibration.Calibration(tr, ltr, va, lva, {"pixels": features.PixelFeatures()}, n_gen, n_ref, n_draws)
    return cal, tr, va


def test_reference_size_caps():
    assert calibration.reference_size(300, 500, 300) == 300
    assert calibration.reference_size(600, 500, 1000) == 400
    assert calibration.reference_size(150, 500, 300) == 150
    with pytest.raises(ValueError):
        calibration.reference_size(300, 50, 300)


def test_draw_references_sets():
    ltr = np.arange(300) % 10
    lva = np.arange(500) % 10
    d = calibration.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=3)
    np.testing.assert_array_equal(d.train_ref, np.arange(300))  # the whole training set fits
    assert len(d.val_ref) == 300 and len(np.unique(d.val_ref)) == 300
    np.testing.assert_array_equal(np.bincount(lva[d.val_ref]), np.bincount(ltr[d.train_ref]))  # class counts
    assert len(d.null) == 250 and not set(d.null) & set(d.val_ref)  # the null never meets the val reference
    assert len(np.unique(d.null)) < 250  # drawn with replacement from the 200 left over
    assert len(d.copier) == 250 and d.copier.min() >= 0 and d.copier.max() < 300
    again = calibration.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=3)
    np.testing.assert_array_equal(again.copier, d.copier)  # seeded
    other = calibration.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=4)
    assert not np.array_equal(other.val_ref, d.val_ref)


def test_draw_references_subset_when_training_set_is_large():
    ltr = np.arange(600) % 10
    lva = np.arange(500) % 10
    d = calibration.draw_references(ltr, lva, n_gen=300, n_ref=1000, seed=0)
    assert len(d.train_ref) == len(d.val_ref) == 400  # 500 val images less 100 for the null
    assert len(np.unique(d.train_ref)) == 400
    # the copier draws from all 600 training images, not only the 400 of the train reference
    assert len(d.copier) == 300 and d.copier.min() >= 0 and d.copier.max() < 600
    assert d.copier.max() >= 400  # an index that a draw from 400 images could not give
    assert not np.isin(d.copier, d.train_ref).all()  # some copies are outside the train reference


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
    fresh, _ = mixture(cal.n_gen, 99)
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
    fresh, _ = mixture(cal.n_gen // 2, 77)
    half = torch.cat([fresh, references.copier_images(tr, cal.n_gen - len(fresh), seed=8)])
    m = cal.model_statistics(half)
    idx = statistics.memorization_index(m["pixels/nn_gap"], stats["null"]["pixels/nn_gap"],
                                         stats["copier"]["pixels/nn_gap"])
    assert 0.3 < idx.mean() < 0.7
    assert m["copy_fraction"][0] == pytest.approx(0.5)


def test_statistics_match_direct_computation():
    cal, tr, va = make_calibration(n_draws=2)
    x, _ = mixture(cal.n_gen, 11)
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


def test_gaussian_fit_learns_the_moments_and_copies_nothing():
    tr, _ = mixture(400, 1)
    fit = calibration.GaussianFit(tr)
    x = fit.sample(4000, seed=2)
    assert x.shape == (4000, 1, 4, 4)
    flat, ref = x.reshape(4000, -1).double(), tr.reshape(400, -1).double()
    torch.testing.assert_close(flat.mean(0), ref.mean(0), atol=0.15, rtol=0)
    torch.testing.assert_close(torch.cov(flat.T), torch.cov(ref.T), atol=0.35, rtol=0.1)
    torch.testing.assert_close(fit.sample(5, seed=2), x[:5])  # sample i depends only on (seed, i)
    assert metrics.copy_fraction(metrics.memorization_ratio(x[:500], tr)) < 0.05


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


def test_index_draws_and_summary():
    model = np.array([[0.1, 0.2], [0.3, 0.4]])  # (S, R)
    idx = statistics.index_draws(model, [0.0, 0.1], [1.0, 1.1])
    np.testing.assert_allclose(idx, [[0.1, 0.1], [0.3, 0.3]])
    s = intervals.bootstrap(idx)
    assert s.n == 4 and s.lo <= s.mean <= s.hi
    assert s.contains(s.mean)


def test_heldout_pool_is_val_then_unused_images():
    from types import SimpleNamespace

    from diffgen_lib import data

    sp = data.load_splits("digits", 300, 500, 500, seed=0)
    run = SimpleNamespace(config=SimpleNamespace(dataset="digits", n_train=300, n_val=500, n_feature=500,
                                                 split_seed=0, root=None), splits=sp, clusters=None)
    images, labels = calibration.heldout_pool(run)
    assert len(images) == 500 + 497  # 1797 digits less 1300 in the splits
    torch.testing.assert_close(images[:500], sp.val.images)
    assert len(images) == len(labels)
    # the extra held-out images are none of the images the splits use (the digits are all distinct)
    used = torch.cat([sp.train.images, sp.val.images, sp.feature.images]).flatten(1)
    extra = images[500:].flatten(1)
    assert len(torch.unique(torch.cat([used, extra]), dim=0)) == len(used) + len(extra)
    # the extra images are the ones a larger training set of the same seed would add
    larger = data.load_splits("digits", 797, 500, 500, seed=0)
    torch.testing.assert_close(larger.train.images[:300], sp.train.images)
    torch.testing.assert_close(images[500:], larger.train.images[300:])
    assert set(larger.train.indices[300:].tolist()).isdisjoint(
        torch.cat([sp.train.indices, sp.val.indices, sp.feature.indices]).tolist())
    small, _ = calibration.heldout_pool(run, max_extra=10)
    assert len(small) == 510
    torch.testing.assert_close(small, images[:510])


def test_run_calibration_indices():
    S, R, K = 3, 5, 4
    model = np.full((2, S, R), 0.5)
    final = {"pixels/nn_gap": {"model": model, "gaussian": np.zeros((2, S, R)),
                               "null": np.zeros((2, R)), "copier": np.full((2, R), 2.0)}}
    partial = {"pixels/nn_gap": {"model": np.ones((S, R, K)), "null": np.zeros((R, K)),
                                 "copier": np.tile([1.0, 2.0, 4.0, 8.0], (R, 1))}}
    rc = calibrated_run.RunCalibration(np.array([10, 20]), 300, 997, 1.0, final, {}, partial, np.arange(K) + 1.0)
    np.testing.assert_allclose(rc.index("pixels/nn_gap"), 0.25)
    np.testing.assert_allclose(rc.index("pixels/nn_gap", which="gaussian"), 0.0)
    np.testing.assert_allclose(rc.partial_index("pixels/nn_gap")[0, 0], [1.0, 0.5, 0.25, 0.125])
    assert rc.partial_index("pixels/nn_gap").shape == (S, R, K)


def test_exchange_null_is_zero_in_expectation_and_sized_like_the_references():
    """With held-out images in the training set's place, stand-in, val reference and null are
    exchangeable: every statistic averages to about 0 over the draws (here a fixed training set's
    own null may sit off 0; the exchanged one may not)."""
    ltr = (torch.arange(100) % 5)
    held, lheld = mixture(400, 3)
    out = exchange.exchange_null(ltr, held, lheld, {"pixels": features.PixelFeatures()}, n_gen=150,
                                    n_ref=300, n_draws=20, seed=0)
    assert int(out["n_ref"]) == 100  # the training set's size: 400 held-out images hold three sets of it
    for stat in ("pixels/nn_gap", "pixels/fd_gap", "pixels/fd_diff", "pixels/nn_cos"):
        x = out[stat]
        assert x.shape == (20,)
        assert abs(x.mean()) < 3 * x.std(ddof=1) / np.sqrt(x.size) + 1e-12, (stat, x.mean(), x.std())
    # the copier of a stand-in would be 1: the exchanged null is far from it
    assert abs(out["pixels/nn_gap"].mean()) < 0.05
    again = exchange.exchange_null(ltr, held, lheld, {"pixels": features.PixelFeatures()}, 150, 300, 20, 0)
    np.testing.assert_array_equal(again["pixels/fd_diff"], out["pixels/fd_diff"])  # seeded


def test_exchange_null_shrinks_to_the_held_out_images_and_refuses_too_few():
    ltr = torch.arange(300) % 5
    held, lheld = mixture(400, 3)
    out = exchange.exchange_null(ltr, held, lheld, {"pixels": features.PixelFeatures()}, 100, 300, 3)
    assert int(out["n_ref"]) == 150  # (400 - 100) // 2
    with pytest.raises(ValueError, match="too few"):
        exchange.exchange_null(ltr, held[:100], lheld[:100], {"pixels": features.PixelFeatures()}, 100, 300, 3)
