"""A denoiser with a limited receptive field: the trained denoiser applied to windows smaller
than the image, the predictions of overlapping windows averaged (the paper's sliding-window
measurement of the receptive field; Kamb & Ganguli 2024 on locality)."""

from __future__ import annotations

from typing import Callable, List, Optional

import torch

Tensor = torch.Tensor


def window_starts(size: int, window: int, stride: int) -> List[int]:
    """Start offsets of windows of length ``window`` covering [0, size) with step ``stride``;
    the last window ends exactly at ``size``."""
    if not 1 <= window <= size:
        raise ValueError(f"window must be in [1, {size}], got {window}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


class SlidingWindow:
    """A denoiser whose receptive field is at most ``window`` x ``window`` pixels.

    The wrapped denoiser D(x; sigma[, labels]) is applied to every window (the windows of
    :func:`window_starts` in both directions, default stride window // 2) as if it were a whole
    image, and each output pixel is the mean of the predictions of the windows that contain it.
    A window as large as the image gives D itself.
    """

    def __init__(self, denoiser: Callable, window: int, stride: Optional[int] = None):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.denoiser, self.window = denoiser, int(window)
        self.stride = int(stride) if stride is not None else max(1, self.window // 2)

    def n_windows(self, height: int, width: int) -> int:
        w = min(self.window, height), min(self.window, width)
        return len(window_starts(height, w[0], self.stride)) * len(window_starts(width, w[1], self.stride))

    def __call__(self, x: Tensor, sigma: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        n, c, h, w = x.shape
        wh, ww = min(self.window, h), min(self.window, w)
        rows, cols = window_starts(h, wh, self.stride), window_starts(w, ww, self.stride)
        # All windows of all images in one batch: (n * n_windows, c, wh, ww).
        patches = torch.stack([x[:, :, r:r + wh, q:q + ww] for r in rows for q in cols], 1)
        k = patches.shape[1]
        flat = patches.reshape(n * k, c, wh, ww)
        sig = sigma.repeat_interleave(k)
        lab = None if labels is None else labels.repeat_interleave(k)
        pred = (self.denoiser(flat, sig) if lab is None else self.denoiser(flat, sig, lab)).reshape(n, k, c, wh, ww)
        out = torch.zeros_like(x)
        count = torch.zeros((1, 1, h, w), dtype=x.dtype, device=x.device)
        i = 0
        for r in rows:
            for q in cols:
                out[:, :, r:r + wh, q:q + ww] += pred[:, i]
                count[:, :, r:r + wh, q:q + ww] += 1
                i += 1
        return out / count
