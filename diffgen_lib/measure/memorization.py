"""Memorization by the optimal denoiser on real data: the closed-form denoiser as an
image denoiser, the concentration of its posterior over training images against sigma, and the
summaries of the copies it makes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import analytic, diffusion
from . import metrics

Tensor = torch.Tensor


@dataclass
class Concentration:
    """Posterior concentration of noised images y + sigma n over the training set, per sigma."""

    sigmas: np.ndarray        # (S,)
    max_weight: np.ndarray    # (S, M): largest posterior weight
    entropy: np.ndarray       # (S, M): entropy of the weights, nats
    top_is_source: np.ndarray # (S, M): the largest weight sits on the image's own source (train images)


@torch.no_grad()
def posterior_concentration(images: Tensor, train_images: Tensor, sigmas: Sequence[float],
                            noise_seed: int = 0, source_index: Tensor | None = None) -> Concentration:
    """Max posterior weight and entropy of the optimal denoiser's posterior for noised images.

    Image j gets the noise of its own generator seeded ``noise_seed + j``, the same at every sigma
    (as :func:`metrics.denoising_errors`). ``source_index`` (M,) gives, for noised training images,
    the index of each image in ``train_images``; then ``top_is_source`` says whether the largest
    weight sits on it (else it is all False).
    """
    y = images.reshape(len(images), -1).to(torch.float64)
    train = train_images.reshape(len(train_images), -1).to(torch.float64)
    noise = diffusion.per_sample_noise([noise_seed + j for j in range(len(y))], (y.shape[1],),
                                       dtype=torch.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    max_w = np.empty((len(sigmas), len(y)))
    ent = np.empty_like(max_w)
    top_src = np.zeros(max_w.shape, dtype=bool)
    for k, s in enumerate(sigmas):
        x = y + float(s) * noise
        stats = analytic.posterior_stats(x, float(s), train, want_mean=False)
        max_w[k] = stats.max_weight.numpy()
        ent[k] = stats.entropy.numpy()
        if source_index is not None:
            # The largest weight belongs to the training point with the largest logit, i.e. the
            # nearest one in Euclidean distance.
            nearest = torch.cdist(x, train).argmin(1)
            top_src[k] = (nearest == source_index).numpy()
    return Concentration(sigmas, max_w, ent, top_src)


def crossing_sigma(sigmas: Sequence[float], values: Sequence[float], level: float = 0.5) -> float:
    """The noise level at which a curve that grows as sigma falls first reaches ``level``, scanning
    from large to small sigma, interpolated linearly in log sigma; nan if it never does."""
    sigmas, values = np.asarray(sigmas, dtype=np.float64), np.asarray(values, dtype=np.float64)
    order = np.argsort(sigmas)[::-1]
    s, v = sigmas[order], values[order]
    above = np.flatnonzero(v >= level)
    if len(above) == 0:
        return float("nan")
    k = int(above[0])
    if k == 0:
        return float(s[0])
    t = (level - v[k - 1]) / (v[k] - v[k - 1])
    return float(math.exp(math.log(s[k - 1]) + t * (math.log(s[k]) - math.log(s[k - 1]))))


def per_dimension_variance(images: Tensor) -> float:
    """Mean over dimensions of the per-dimension variance across images: Tr(Cov) / D."""
    flat = images.reshape(len(images), -1).to(torch.float64)
    return float(flat.var(0, unbiased=True).mean())


@dataclass
class CopyReport:
    """Where generated samples lie relative to the training and validation sets."""

    ratio: np.ndarray          # (M,) d1 / d2 to the two nearest training images
    d_train: np.ndarray        # (M,) distance to the nearest training image
    d_val: np.ndarray          # (M,) distance to the nearest validation image
    nearest_train: np.ndarray  # (M,) index of the nearest training image
    copy_fraction: float       # fraction with ratio < 1/3


def copy_report(samples: Tensor, train_images: Tensor, val_images: Tensor) -> CopyReport:
    """Memorization ratio (Gu et al. / Yoon et al.) and nearest-train / nearest-val distances."""
    d_tr, i_tr = metrics.nearest_neighbors(samples, train_images, k=2)
    d_va, _ = metrics.nearest_neighbors(samples, val_images, k=1)
    ratio = d_tr[:, 0] / np.maximum(d_tr[:, 1], 1e-12)
    return CopyReport(ratio, d_tr[:, 0], d_va[:, 0], i_tr[:, 0], metrics.copy_fraction(ratio))


def tile_pairs(samples: Tensor, partners: Tensor, n_cols: int = 8, pad: int = 1) -> np.ndarray:
    """One grey image of pairs (sample above, partner below) in ``n_cols`` columns, for imshow.

    Takes single-channel images (M, 1, H, W); returns a 2-D array with NaN in the padding (drawn
    in the colour map's "bad" colour, the axes background by default).
    """
    if samples.shape != partners.shape or samples.ndim != 4 or samples.shape[1] != 1:
        raise ValueError(f"need two (M, 1, H, W) tensors of the same shape, got {tuple(samples.shape)} "
                         f"and {tuple(partners.shape)}")
    m, _, h, w = samples.shape
    n_rows = math.ceil(m / n_cols)
    cell_h, cell_w = 2 * h + pad, w + pad
    out = np.full((n_rows * (cell_h + pad) + pad, n_cols * cell_w + pad), np.nan)
    for i in range(m):
        r, c = divmod(i, n_cols)
        top, left = pad + r * (cell_h + pad), pad + c * cell_w
        out[top:top + h, left:left + w] = samples[i, 0].numpy()
        out[top + h + pad:top + 2 * h + pad, left:left + w] = partners[i, 0].numpy()
    return out
