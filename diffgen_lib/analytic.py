"""Closed-form denoisers of a finite training set (the optimal denoiser and the paper's toy model).

The optimal (empirical) denoiser is the posterior mean over the training points
(Karras et al. 2022, appendix B.3, "ideal denoiser"):

    y*(x; sigma) = sum_i w_i(x) y_i,   w = softmax_i(-||x - y_i||^2 / (2 sigma^2)).

The smoothed-data denoiser is the exact posterior mean for the training distribution blurred by a
Gaussian of width delta (the paper's error model):

    y_delta(x; sigma) = (delta^2 x + sigma^2 y*(x; sqrt(sigma^2 + delta^2))) / (sigma^2 + delta^2).

All functions work in any dimension D, take x (M, D) and train (N, D) tensors and sigma as a float
or an (M,) tensor, and run in chunks so that extra memory stays bounded for any M and N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch

Tensor = torch.Tensor
Sigma = Union[float, Tensor]

# A chunk of the (M, N) logits aims at this many (query, training point) pairs: 2 MB of float32,
# the size of one core's L2 cache, so that the elementwise passes over it run from cache; on a
# 2-core machine 2^17 to 2^21 pairs measured within 10% of each other, and 2^19 was best with
# both cores working ...
MAX_PAIRS_PER_CHUNK = 1 << 19
# ... but a chunk takes at least MIN_ROWS queries (products with fewer rows ran up to 25% slower)
# while that stays under this memory cap: three float32 buffers of 2^24 pairs are 192 MB, so extra
# memory stays under 256 MB. Training points are split into column chunks (combined by online
# softmax) only when N exceeds the cap.
MIN_ROWS = 256
MEMORY_PAIRS = 1 << 24


@dataclass
class PosteriorStats:
    """Per-query summaries of the posterior over training points at noise level sigma."""

    mean: Optional[Tensor]        # (M, D) posterior mean y*(x; sigma), or None if not asked for
    log_norm: Tensor              # (M,) log sum_i exp(l_i), l_i = (x.y_i - |y_i|^2 / 2) / sigma^2
    max_weight: Optional[Tensor]  # (M,) largest posterior weight (None if not asked for)
    entropy: Optional[Tensor]     # (M,) entropy of the weights in nats (0: one point; log N: uniform)


def chunk_shape(m: int, n: int) -> tuple[int, int]:
    """(queries, training points) in one chunk of the (M, N) logits for M queries and N points."""
    rows = max(1, min(m, max(MAX_PAIRS_PER_CHUNK // n, min(MIN_ROWS, MEMORY_PAIRS // n))))
    return rows, max(1, min(n, MEMORY_PAIRS // rows))


def posterior_stats(x: Tensor, sigma: Sigma, train: Tensor, want_mean: bool = True,
                    want_concentration: bool = True) -> PosteriorStats:
    """One chunked pass over the training set: posterior mean, normalizer and concentration.

    The logits drop the per-query constant ||x||^2 (softmax is invariant to it) and come from one
    product of augmented matrices, [x / sigma^2, -1 / sigma^2] @ [y, |y|^2 / 2]^T. Weights below
    eps / N of the largest (all of them together change the result by less than the dtype's
    precision) are set to exactly zero: at intermediate sigma most weights would otherwise be
    subnormal floats, which slow the exponential and the second product down many times.
    """
    return _posterior_pass(x, sigma, train, want_mean, True, want_concentration)


def _posterior_pass(x: Tensor, sigma: Sigma, train: Tensor, want_mean: bool, want_log_norm: bool,
                    want_concentration: bool) -> PosteriorStats:
    """posterior_stats, with the normalizer optional (the denoiser does not need it).

    The logits are computed in bits (l_i / ln 2, the scale folded into the product) and
    exponentiated with exp2, which stays fast for the zeroed entries where exp slows down. A chunk
    of logits, in one reused buffer, takes four elementwise passes and a row sum: row max t, shift
    by it, zero the negligible weights (logit set to the dtype's lowest finite value, whose power
    of 2 is exactly 0; finite, so that 0 * logit = 0 in the entropy), exp2 in place. Column
    chunks (only when N exceeds a chunk) are combined by the online-softmax rescaling.
    """
    x, train, inv_var = _check(x, sigma, train)
    (m, d), n = x.shape, train.shape[0]
    train_aug = torch.cat([train, 0.5 * (train * train).sum(1, keepdim=True)], 1)
    log2_threshold = math.log2(torch.finfo(x.dtype).eps / n)
    zero_logit = torch.finfo(x.dtype).min
    rows, cols = chunk_shape(m, n)
    # queries whose scaled, augmented copy [x / (sigma^2 ln 2), -1 / (sigma^2 ln 2)] is made at once
    block = rows * max(1, MEMORY_PAIRS // 4 // (rows * (d + 1)))
    logits_buf = torch.empty(rows * cols, dtype=x.dtype, device=x.device)
    weights_buf = torch.empty_like(logits_buf) if want_concentration else None
    mean = torch.empty(m, d, dtype=x.dtype, device=x.device) if want_mean else None  # contiguous
    log_norm = torch.empty_like(inv_var) if want_log_norm else None
    max_weight = torch.empty_like(inv_var) if want_concentration else None
    entropy = torch.empty_like(inv_var) if want_concentration else None
    for b0 in range(0, m, block):
        scale = inv_var[b0:b0 + block, None] * (1.0 / math.log(2.0))
        x_aug = torch.cat([x[b0:b0 + block] * scale, -scale], 1)
        for r0 in range(b0, b0 + x_aug.shape[0], rows):
            xa = x_aug[r0 - b0:r0 - b0 + rows]
            r1 = r0 + xa.shape[0]
            for c0 in range(0, n, cols):
                c1 = min(n, c0 + cols)
                logits = logits_buf[:(r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
                torch.mm(xa, train_aug[c0:c1].T, out=logits)  # logits in bits, l_i / ln 2
                top = logits.amax(1, keepdim=True)
                logits -= top
                torch.nn.functional.threshold_(logits, log2_threshold, zero_logit)
                if want_concentration:  # w = 2^(l - t); wl = sum w (l - t)
                    w = torch.exp2(logits, out=weights_buf[:logits.numel()].view_as(logits))
                    wl = torch.linalg.vecdot(w, logits)[:, None]
                else:
                    w, wl = logits.exp2_(), None
                s = w.sum(1, keepdim=True)
                if c0 == 0:
                    run_max, run_sum, run_wl = top, s, wl
                    if want_mean:
                        run_wy = torch.mm(w, train[c0:c1], out=mean[r0:r1])
                    continue
                # Online softmax: bring the running sums and this chunk's to their common maximum.
                new_max = torch.maximum(run_max, top)
                a, b = torch.exp2(run_max - new_max), torch.exp2(top - new_max)
                if want_concentration:
                    run_wl = a * (run_wl + (run_max - new_max) * run_sum) + b * (wl + (top - new_max) * s)
                if want_mean:
                    run_wy.mul_(a).add_(b * (w @ train[c0:c1]))
                run_sum = a * run_sum + b * s
                run_max = new_max
            if want_mean:
                run_wy.div_(run_sum)
            if want_log_norm or want_concentration:
                log2_sum = run_sum.log2()[:, 0]
            if want_log_norm:
                log_norm[r0:r1] = math.log(2.0) * (run_max[:, 0] + log2_sum)
            if want_concentration:
                max_weight[r0:r1] = 1.0 / run_sum[:, 0]
                entropy[r0:r1] = (math.log(2.0) * (log2_sum - run_wl[:, 0] / run_sum[:, 0])).clamp_min(0.0)
    return PosteriorStats(mean, log_norm, max_weight, entropy)


def optimal_denoiser(x: Tensor, sigma: Sigma, train: Tensor) -> Tensor:
    """The optimal (empirical) denoiser y*(x; sigma) = sum_i w_i(x) y_i (EDM, appendix B.3)."""
    return _posterior_pass(x, sigma, train, want_mean=True, want_log_norm=False,
                           want_concentration=False).mean


def image_denoiser(train_images: Tensor, train_labels: Optional[Tensor] = None):
    """The optimal denoiser of a set of training images (N, C, H, W) as an image denoiser
    ``D(x, sigma[, labels])`` on batches (B, C, H, W) with a (B,) sigma, for the sampler and the
    denoising-error measurements. Computes in float64 (the weights at the sampler's smallest sigma
    need the range) and returns x's dtype. With ``train_labels`` it is class-conditional: the
    posterior runs over the training images of the query's label only (the optimal denoiser of a
    conditional model)."""
    flat = train_images.reshape(len(train_images), -1).double()

    def denoise(x: Tensor, sigma: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        xf = x.reshape(len(x), -1).double()
        sig = torch.as_tensor(sigma, dtype=torch.float64, device=xf.device).expand(len(x))
        if labels is None or train_labels is None:
            out = optimal_denoiser(xf, sig, flat)
        else:
            out = torch.empty_like(xf)
            for c in labels.unique():
                rows, pool = labels == c, train_labels == c
                out[rows] = optimal_denoiser(xf[rows], sig[rows], flat[pool])
        return out.to(x.dtype).reshape(x.shape)

    return denoise


def smoothed_denoiser(x: Tensor, sigma: Sigma, train: Tensor, delta: float) -> Tensor:
    """Posterior mean for the training set blurred by N(0, delta^2 I) (the paper's toy model).

    y_delta(x; s) = (delta^2 x + s^2 y*(x; sqrt(s^2 + delta^2))) / (s^2 + delta^2);
    delta = 0 is the optimal denoiser.
    """
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if delta == 0:
        return optimal_denoiser(x, sigma, train)
    s2 = _sigma_column(sigma, x) ** 2
    d2 = float(delta) ** 2
    y_star = optimal_denoiser(x, (s2 + d2).sqrt()[:, 0], train)
    return (d2 * x + s2 * y_star) / (s2 + d2)


def posterior_weights(x: Tensor, sigma: Sigma, train: Tensor) -> Tensor:
    """The full (M, N) matrix of posterior weights w_i(x); for small M * N (diagnostics, tests)."""
    x, train, inv_var = _check(x, sigma, train)
    logits = (x @ train.T - 0.5 * (train * train).sum(1)) * inv_var[:, None]
    return torch.softmax(logits, dim=1)


def log_density(x: Tensor, sigma: Sigma, train: Tensor) -> Tensor:
    """log p_sigma(x) under the noisy empirical distribution p = mean_i N(x; y_i, sigma^2 I)."""
    x, train, inv_var = _check(x, sigma, train)
    stats = posterior_stats(x, sigma, train, want_mean=False, want_concentration=False)
    d, n = x.shape[1], train.shape[0]
    return (stats.log_norm - 0.5 * (x * x).sum(1) * inv_var
            - math.log(n) + 0.5 * d * torch.log(inv_var / (2 * math.pi)))


def collapse_sigma(n_train: int, dim: int, data_variance: float) -> float:
    """Collapse noise level of Biroli, Bonnaire, de Bortoli & Mezard (2024) for Gaussian data.

    The noisy empirical distribution collapses onto its N training points when its entropy,
    approximately that of the noisy data D/2 log(2 pi e (v + sigma^2)), drops to the entropy of a
    single component plus log N, D/2 log(2 pi e sigma^2) + log N. Solving for sigma:

        sigma_c^2 = v / (N^(2/D) - 1),   v = per-dimension data variance.

    Real images lie near a low-dimensional set, so this Gaussian estimate is an upper bound on
    the noise level at which the optimal denoiser starts to return single training points.
    """
    if n_train < 2 or dim < 1 or data_variance <= 0:
        raise ValueError(f"need n_train >= 2, dim >= 1, data_variance > 0; got {n_train}, {dim}, {data_variance}")
    return math.sqrt(data_variance / math.expm1(2.0 * math.log(n_train) / dim))


def _sigma_column(sigma: Sigma, x: Tensor) -> Tensor:
    """sigma as an (M, 1) tensor in x's dtype and device."""
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if s.ndim == 0:
        s = s.expand(x.shape[0])
    if s.shape != (x.shape[0],):
        raise ValueError(f"sigma must be a float or a ({x.shape[0]},) tensor, got shape {tuple(s.shape)}")
    return s[:, None]


def _check(x: Tensor, sigma: Sigma, train: Tensor):
    """Validate shapes; return x, train in x's dtype/device and 1 / sigma^2 as an (M,) tensor."""
    if x.ndim != 2 or train.ndim != 2 or x.shape[1] != train.shape[1]:
        raise ValueError(f"need x (M, D) and train (N, D), got {tuple(x.shape)} and {tuple(train.shape)}")
    if train.shape[0] == 0:
        raise ValueError("the training set is empty")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
    s = _sigma_column(sigma, x)[:, 0]
    if not bool((s > 0).all()):
        raise ValueError("sigma must be > 0")
    return x, train.to(dtype=x.dtype, device=x.device), 1.0 / (s * s)
