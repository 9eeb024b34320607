"""Guidance, sliding windows and the k-means runs of the factors chapter (fast, CPU)."""

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion
from diffgen_lib.measure import evaluation, inference, windows
from diffgen_lib.seeds import GUIDED_SAMPLES
from diffgen_lib.studies import experiments, factors

torch.set_num_threads(2)


def test_window_starts_cover_the_image_and_end_at_its_edge():
    assert windows.window_starts(14, 6, 3) == [0, 3, 6, 8]
    assert windows.window_starts(14, 14, 7) == [0]
    assert windows.window_starts(8, 4, 4) == [0, 4]
    assert windows.window_starts(5, 1, 1) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="window"):
        windows.window_starts(8, 9, 1)
    with pytest.raises(ValueError, match="stride"):
        windows.window_starts(8, 4, 0)


def _global_mean_denoiser(x, sigma, labels=None):
    """Every output pixel is the mean of the whole (window) input: maximally non-local."""
    return x.mean(dim=(2, 3), keepdim=True).expand_as(x) * (1 + 0 * sigma.view(-1, 1, 1, 1))


def test_full_window_is_the_denoiser_and_local_denoisers_are_unchanged():
    x = torch.randn(3, 2, 10, 10, generator=torch.Generator().manual_seed(0))
    sigma = torch.full((3,), 0.7)
    full = windows.SlidingWindow(_global_mean_denoiser, 10)
    assert torch.allclose(full(x, sigma), _global_mean_denoiser(x, sigma))
    pointwise = lambda x, s: x / (1 + s.view(-1, 1, 1, 1) ** 2)  # noqa: E731
    for window, stride in ((3, 1), (4, 2), (6, 5)):
        assert torch.allclose(windows.SlidingWindow(pointwise, window, stride)(x, sigma), pointwise(x, sigma))


def test_sliding_window_averages_overlapping_windows_closed_form():
    # 1 x 4 image, windows of width 2 (height 1) at columns 0, 1, 2 (stride 1):
    # window means m0 = (a+b)/2, m1 = (b+c)/2, m2 = (c+d)/2; pixel b is in windows 0 and 1.
    x = torch.tensor([[[[1.0, 3.0, 7.0, 15.0]]]])
    out = windows.SlidingWindow(_global_mean_denoiser, 2, 1)(x, torch.ones(1))
    m = [2.0, 5.0, 11.0]
    expected = torch.tensor([m[0], (m[0] + m[1]) / 2, (m[1] + m[2]) / 2, m[2]])
    assert torch.allclose(out.flatten(), expected)


def test_sliding_window_limits_the_receptive_field():
    x = torch.randn(1, 1, 12, 12, generator=torch.Generator().manual_seed(1), requires_grad=True)
    out = windows.SlidingWindow(_global_mean_denoiser, 4, 2)(x, torch.ones(1))
    out[0, 0, 0, 0].backward()
    reach = (x.grad[0, 0].abs() > 0).nonzero()
    assert reach.max().item() == 3           # only the window(s) holding pixel (0, 0)
    x.grad = None
    out = windows.SlidingWindow(_global_mean_denoiser, 12)(x, torch.ones(1))
    out[0, 0, 0, 0].backward()
    assert (x.grad[0, 0].abs() > 0).all()    # the full window sees every pixel


def test_sliding_window_passes_labels_per_image():
    x = torch.zeros(3, 1, 6, 6)
    labels = torch.tensor([4, 0, 9])

    def label_echo(x, sigma, labels):
        return labels.view(-1, 1, 1, 1).to(x.dtype).expand_as(x) + sigma.view(-1, 1, 1, 1)

    out = windows.SlidingWindow(label_echo, 3, 2)(x, torch.tensor([0.5, 1.5, 2.5]), labels)
    assert torch.allclose(out[:, 0, 2, 3], torch.tensor([4.5, 1.5, 11.5]))


def test_sample_set_is_per_sample_and_uses_labels():
    def den(x, s, labels):
        return torch.zeros_like(x) + labels.view(-1, 1, 1, 1).to(x.dtype)  # collapses onto the label

    labels = torch.tensor([0, 1, 2, 3, 4])
    a = inference.sample_set(den, 5, (1, 2, 2), labels, n_steps=6)
    b = diffusion.generate(den, GUIDED_SAMPLES.seeds(5), (1, 2, 2), 6, batch_size=2, labels=labels)
    assert torch.equal(a, b)  # per-sample noise and labels: the batch does not matter
    assert torch.allclose(a.flatten(1).mean(1), labels.float(), atol=1e-4)  # ODE ends at D's target
    u = inference.sample_set(lambda x, s: torch.zeros_like(x), 3, (1, 2, 2), None, n_steps=6)
    assert u.abs().max() < 1e-4


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
