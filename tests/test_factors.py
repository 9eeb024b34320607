"""The k-means runs, sweeps and claim helpers of the factors chapter (fast, CPU)."""

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion
from diffgen_lib.measure import evaluation
from diffgen_lib.studies import experiments, factors

torch.set_num_threads(2)


def test_kmeans_config_zero_is_the_main_run():
    assert factors.kmeans_config(0) == experiments.gap_run()
    c = factors.kmeans_config(10, steps=300)
    assert c.labels == "kmeans" and c.n_clusters == 10 and c.conditional and c.label_dropout > 0
    assert c.max_steps == 300
    with pytest.raises(ValueError):
        factors.kmeans_config(-1)


def test_eval_sigmas_subset_of_the_grid():
    grid = diffusion.log_sigma_grid().numpy()
    s = factors.eval_sigmas(0.01, 10.0, 2)
    assert s.min() >= 0.01 and s.max() <= 10.0 and np.isin(s, grid).all()
    assert len(factors.eval_sigmas(0.01, 10.0, 1)) in (2 * len(s), 2 * len(s) - 1)


def test_direction():
    assert factors.direction([1, 2, 3, 4], [0.1, 0.2, 0.25, 0.4]) == "up"
    assert factors.direction([1, 2, 3], [3.0, 2.0, 1.0]) == "down"
    assert factors.direction([1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0]) == "flat"
    assert factors.direction([1, 2, 3, 4], [1.0, 2.0, 1.0, 2.0]) == "flat"
    with pytest.raises(ValueError):
        factors.direction([1], [1])


def test_peak_ratio_interval_closed_form_and_coverage():
    """Per-image errors of two denoisers (D=2, S=3 noise levels, n images): the value is the ratio
    of the peak relative gaps of the means, and the bootstrap interval over images contains it."""
    rng = np.random.default_rng(0)
    n = 80
    tr = 1.0 + 0.1 * rng.random((2, 3, n))
    va = tr * np.array([[1.2, 1.5, 1.1], [1.1, 1.2, 1.05]])[..., None] + 0.05 * rng.random((2, 3, n))
    e = evaluation.peak_ratio_interval(tr, va, num=1, den=0, n_boot=500)
    value, lo, hi = e.value, e.lo, e.hi
    gaps = (va.mean(-1) - tr.mean(-1)) / tr.mean(-1)
    assert value == pytest.approx(gaps[1].max() / gaps[0].max())
    assert lo <= value <= hi and hi - lo > 0
    # identical denoisers: the ratio is exactly 1 in every resample
    same = evaluation.peak_ratio_interval(np.stack([tr[0]] * 2), np.stack([va[0]] * 2), 1, 0, n_boot=50)
    assert (same.value, same.lo, same.hi) == (1.0, 1.0, 1.0)
