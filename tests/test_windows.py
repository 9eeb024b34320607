"""Sliding-window denoisers (:mod:`diffgen_lib.measure.windows`): a denoiser applied to windows
of the image, the overlaps averaged."""

import pytest
import torch

from diffgen_lib.measure import windows

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
