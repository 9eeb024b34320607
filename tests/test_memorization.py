"""The optimal denoiser on images and the summaries of the memorization chapter."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import analytic
from diffgen_lib.measure import memorization

torch.set_num_threads(2)


def _images(n, seed=0, size=4):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g) * 2 - 1


def test_image_denoiser_limits():
    train = _images(6)
    d = analytic.image_denoiser(train)
    x = train[[2, 4]] + 1e-3 * _images(2, seed=1)
    out = d(x, torch.full((2,), 1e-2))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.allclose(out, train[[2, 4]], atol=1e-6)
    far = d(torch.zeros(3, 1, 4, 4), torch.full((3,), 1e4))
    assert torch.allclose(far, train.mean(0, keepdim=True).expand(3, -1, -1, -1), atol=1e-4)


def test_posterior_concentration_limits_and_noise_reuse():
    train = _images(20)
    sigmas = [1e-3, 1e6]
    conc = memorization.posterior_concentration(train[:5], train, sigmas, source_index=torch.arange(5))
    assert conc.max_weight.shape == conc.entropy.shape == (2, 5)
    assert np.allclose(conc.max_weight[0], 1.0) and np.allclose(conc.entropy[0], 0.0, atol=1e-9)
    assert conc.top_is_source[0].all()
    assert np.allclose(conc.max_weight[1], 1 / 20, rtol=1e-3)
    assert np.allclose(conc.entropy[1], math.log(20), rtol=1e-4)
    # the same noise at every sigma: one sigma at a time gives the same numbers
    one = memorization.posterior_concentration(train[:5], train, [1e6])
    assert np.allclose(one.max_weight[0], conc.max_weight[1]) and not one.top_is_source.any()


def test_crossing_sigma():
    sigmas = np.logspace(-2, 2, 41)
    curve = 1 / (1 + (sigmas / 0.7) ** 4)            # 1/2 exactly at sigma = 0.7
    assert memorization.crossing_sigma(sigmas, curve, 0.5) == pytest.approx(0.7, rel=2e-2)
    assert memorization.crossing_sigma(sigmas[::-1], curve[::-1], 0.5) == pytest.approx(0.7, rel=2e-2)
    assert math.isnan(memorization.crossing_sigma(sigmas, 0.4 * curve, 0.5))
    assert memorization.crossing_sigma(sigmas, np.ones_like(sigmas), 0.5) == pytest.approx(100.0)


def test_per_dimension_variance():
    x = _images(50, size=3)
    flat = x.reshape(50, -1).double().numpy()
    assert memorization.per_dimension_variance(x) == pytest.approx(flat.var(0, ddof=1).mean())


def test_copy_report():
    train, val = _images(10), _images(10, seed=5)
    copies = train[[0, 3, 7]].clone()
    rep = memorization.copy_report(copies, train, val)
    assert rep.copy_fraction == 1.0 and np.allclose(rep.d_train, 0, atol=1e-5)
    assert list(rep.nearest_train) == [0, 3, 7] and (rep.d_val > 0.1).all()
    mid = 0.5 * (train[[0]] + train[[1]])                    # halfway: not a copy
    assert memorization.copy_report(mid, train, val).copy_fraction == 0.0


def test_tile_pairs():
    a, b = _images(5, size=3), _images(5, seed=2, size=3)
    tiles = memorization.tile_pairs(a, b, n_cols=3, pad=1)
    assert tiles.shape == (2 * (2 * 3 + 1 + 1) + 1, 3 * 4 + 1)
    assert np.allclose(tiles[1:4, 1:4], a[0, 0].numpy()) and np.allclose(tiles[5:8, 1:4], b[0, 0].numpy())
    assert np.isnan(tiles[0]).all()
    with pytest.raises(ValueError):
        memorization.tile_pairs(a, b[:4])
