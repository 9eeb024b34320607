"""The exchanged null (diffgen_lib.measure.exchange)."""

import numpy as np
import pytest
import torch

from diffgen_lib import features
from diffgen_lib.measure import exchange
from synthetic import gaussian_mixture


def test_exchange_null_is_zero_in_expectation_and_sized_like_the_references():
    """With held-out images in the training set's place, stand-in, val reference and null are
    exchangeable: every statistic averages to about 0 over the draws (here a fixed training set's
    own null may sit off 0; the exchanged one may not)."""
    ltr = (torch.arange(100) % 5)
    held, lheld = gaussian_mixture(400, 3)
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
    held, lheld = gaussian_mixture(400, 3)
    out = exchange.exchange_null(ltr, held, lheld, {"pixels": features.PixelFeatures()}, 100, 300, 3)
    assert int(out["n_ref"]) == 150  # (400 - 100) // 2
    with pytest.raises(ValueError, match="too few"):
        exchange.exchange_null(ltr, held[:100], lheld[:100], {"pixels": features.PixelFeatures()}, 100, 300, 3)
