"""Summaries of curves over noise levels: peaks, values at a sigma, ends."""

import math

import numpy as np
import pytest

from diffgen_lib import diffusion
from diffgen_lib.measure import summaries


def test_peak_and_peaks_ignore_nan_and_agree():
    sigmas = np.array([0.01, 0.1, 1.0, 10.0])
    gaps = np.array([[0.0, 0.2, 0.1, 0.0], [0.05, 0.1, 0.5, -0.02]])
    p = summaries.peaks(sigmas, gaps)
    np.testing.assert_array_equal(p["index"], [1, 2])
    np.testing.assert_allclose(p["peak_gap"], [0.2, 0.5])
    np.testing.assert_allclose(p["peak_sigma"], [0.1, 1.0])
    for row, curve in enumerate(gaps):
        one = summaries.peak(sigmas, curve)
        assert (one["peak_gap"], one["peak_sigma"], one["index"]) == (p["peak_gap"][row], p["peak_sigma"][row],
                                                                       p["index"][row])
    with_nan = np.array([np.nan, 0.3, 0.1, np.nan])  # e.g. 0/0 where a memorizer's train error is 0
    assert summaries.peak(sigmas, with_nan) == {"peak_gap": 0.3, "peak_sigma": 0.1, "index": 1}


def test_end_ratio_and_interior():
    assert summaries.end_ratio([0.05, 0.1, 0.5, -0.02]) == pytest.approx(0.1)
    assert summaries.end_ratio([0.0, -0.1, 0.0]) == math.inf
    assert summaries.interior(1, 4) and not summaries.interior(0, 4) and not summaries.interior(3, 4)
    assert not summaries.interior(1, 4, margin=2)


def test_nearest_index_and_values_at_a_sigma():
    sig = diffusion.edm_sigmas(18).numpy()
    assert summaries.nearest_index(sig, 80.0) == 0
    assert summaries.nearest_index(sig, 1e-4) == 17
    k = summaries.nearest_index(sig, 0.3)
    assert abs(math.log(sig[k] / 0.3)) <= min(abs(math.log(s / 0.3)) for s in sig) + 1e-12
    sigmas = np.array([0.01, 0.1, 1.0, 10.0])
    curve = np.array([0.05, 0.1, 0.5, -0.02])
    assert summaries.value_at_nearest(sigmas, curve, 0.9) == 0.5
    # interpolation in log sigma: halfway between 0.1 and 1.0 in log is sqrt(0.1)
    assert summaries.value_at_sigma(sigmas, curve, math.sqrt(0.1)) == pytest.approx(0.3)
    assert summaries.value_at_sigma(sigmas[::-1], curve[::-1], math.sqrt(0.1)) == pytest.approx(0.3)  # any order
    assert summaries.value_at_sigma(sigmas, curve, 100.0) == -0.02  # clamped to the grid's ends
    assert summaries.value_at_sigma(sigmas, [np.inf, 0.1, 0.5, -0.02], 0.01) == 0.1  # finite points only


def test_half_peak_band_and_steps_in_it():
    sigmas = np.array([0.01, 0.1, 1.0, 10.0, 100.0])
    curve = np.array([0.0, 0.6, 1.0, 0.5, 0.1])  # exactly half the peak is not above it
    assert summaries.half_peak_band(sigmas, curve) == (0.1, 1.0)
    assert summaries.steps_in([80.0, 5.0, 1.0, 0.5, 0.02], 0.1, 1.0) == [2, 3]
    assert summaries.steps_in([80.0, 5.0], 0.1, 1.0) == []
