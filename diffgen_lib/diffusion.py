"""EDM diffusion (Karras et al. 2022): preconditioning, loss, noise levels, sampler, guidance.

Notation follows EDM (Karras et al., 2022), as the paper does: x = y + sigma * n with n ~ N(0, I) and no signal
scaling; a denoiser D(x; sigma) predicts the clean y.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

Tensor = torch.Tensor
# A denoiser maps (x, sigma[, labels]) to an estimate of the clean data; sigma is an (M,) tensor,
# labels (class-conditional networks) an (M,) int tensor or None for the NULL label.
Denoiser = Callable[..., Tensor]

SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
RHO = 7.0


# ----------------------------------------------------------------------------------------------
# Noise levels


def edm_sigmas(n_steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
               rho: float = RHO) -> Tensor:
    """EDM time steps (Karras et al. 2022, eq. 5), from sigma_max down to sigma_min.

    sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho, i = 0..N-1.
    The sampler appends the final sigma_N = 0 itself. Returned as float64.
    """
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got {sigma_min}, {sigma_max}")
    if n_steps == 1:
        return torch.tensor([float(sigma_max)], dtype=torch.float64)
    i = torch.arange(n_steps, dtype=torch.float64)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return (a + i / (n_steps - 1) * (b - a)) ** rho


def log_sigma_grid(n: int = 64, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> Tensor:
    """The paper's measurement grid: n log-spaced sigmas in [sigma_min, sigma_max]."""
    return torch.logspace(math.log10(sigma_min), math.log10(sigma_max), n, dtype=torch.float64)


# ----------------------------------------------------------------------------------------------
# Preconditioning and loss


def edm_coefficients(sigma: Tensor, sigma_data: float):
    """c_skip, c_out, c_in, c_noise of EDM (Karras et al. 2022, Table 1)."""
    s2, sd2 = sigma ** 2, sigma_data ** 2
    c_skip = sd2 / (s2 + sd2)
    c_out = sigma * sigma_data / (s2 + sd2).sqrt()
    c_in = 1 / (s2 + sd2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


def loss_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma * sigma_data)^2 (EDM, eq. 8 with Table 1)."""
    return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


class EDMPrecond(nn.Module):
    """D(x; sigma) = c_skip x + c_out F(c_in x, c_noise[, labels]) around a raw network F.

    ``model(x_in, c_noise, labels)`` is the raw network; ``labels`` is an int tensor or None
    (unconditional; a conditional model maps None to its null label).
    """

    def __init__(self, model: nn.Module, sigma_data: float):
        super().__init__()
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data}")
        self.model = model
        self.sigma_data = float(sigma_data)

    def forward(self, x: Tensor, sigma: Union[Tensor, float], labels: Optional[Tensor] = None) -> Tensor:
        sigma = _as_batch(sigma, x)
        shape = (-1,) + (1,) * (x.ndim - 1)
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma.to(torch.float32), self.sigma_data)
        f = self.model(x * c_in.view(shape), c_noise, labels)
        return c_skip.view(shape) * x + c_out.view(shape) * f.to(x.dtype)


def sample_training_sigmas(n: int, generator: torch.Generator, p_mean: float = -1.2,
                           p_std: float = 1.2) -> Tensor:
    """ln sigma ~ N(P_mean, P_std^2) (EDM, section 5), drawn on the CPU."""
    return (torch.randn(n, generator=generator) * p_std + p_mean).exp()


def edm_loss(denoiser: EDMPrecond, y: Tensor, sigma: Tensor, noise: Tensor,
             labels: Optional[Tensor] = None) -> Tensor:
    """Per-sample EDM loss lambda(sigma) ||D(y + sigma n; sigma) - y||^2, averaged over dimensions."""
    shape = (-1,) + (1,) * (y.ndim - 1)
    x = y + sigma.view(shape) * noise
    err = (denoiser(x, sigma, labels) - y) ** 2
    return loss_weight(sigma, denoiser.sigma_data) * err.flatten(1).mean(1)


# ----------------------------------------------------------------------------------------------
# Per-sample noise


def per_sample_noise(seeds: Sequence[int], shape: Sequence[int], dtype=torch.float32) -> Tensor:
    """Standard normal noise, one CPU generator per sample (as EDM's StackedRandomGenerator).

    Sample i depends only on seeds[i], not on the batch it is drawn in or the device.
    """
    out = torch.empty((len(seeds),) + tuple(shape), dtype=dtype)
    for i, seed in enumerate(seeds):
        g = torch.Generator().manual_seed(int(seed))
        out[i] = torch.randn(tuple(shape), generator=g, dtype=dtype)
    return out


# ----------------------------------------------------------------------------------------------
# Guidance


GUIDANCE_KINDS = ("cfg", "auto")  # classifier-free guidance, autoguidance (the negative: an earlier snapshot)


def guided(d_pos: Denoiser, d_neg: Denoiser, weight: float, null_negative: bool = False) -> Denoiser:
    """D_w(x; sigma, c) = D_pos(x; sigma, c) + w (D_pos(x; sigma, c) - D_neg(x; sigma, c')), a
    denoiser wrapper (Karras et al. 2024, eq. 1).

    Classifier-free guidance (Ho & Salimans, 2022): D_neg is the same conditional network with the
    NULL label, ``null_negative=True`` (c' = None). Autoguidance (Karras et al., 2024): D_neg is a
    worse model of the same task with the same labels (c' = c). Labels pass through as the
    sampler's extra argument; ``weight = 0`` returns D_pos itself.
    """
    if weight < 0:
        raise ValueError(f"guidance weight must be >= 0, got {weight}")
    if weight == 0:
        return d_pos

    def denoise(x: Tensor, sigma: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        pos = d_pos(x, sigma) if labels is None else d_pos(x, sigma, labels)
        neg_labels = None if null_negative else labels
        neg = d_neg(x, sigma) if neg_labels is None else d_neg(x, sigma, neg_labels)
        return pos + weight * (pos - neg)

    return denoise


# ----------------------------------------------------------------------------------------------
# Sampler


# callback({"i": step, "x": x_i, "sigma": sigma_i, "denoised": D(x_i; sigma_i)}), as k-diffusion.
StepCallback = Callable[[dict], None]


@torch.no_grad()
def sample(denoise: Denoiser, x_init: Tensor, sigmas: Tensor, heun: bool = True,
           early_stop: Optional[int] = None, callback: Optional[StepCallback] = None,
           extra_args: Optional[dict] = None) -> Tensor:
    """Integrate the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma with EDM's
    deterministic sampler (Karras et al. 2022, Algorithm 1; Algorithm 2 with S_churn = 0).

    A pure function: ``x_init`` is the starting state at sigmas[0] (for generation,
    sigma_max * noise), ``sigmas`` the decreasing noise levels t_0 > ... > t_{N-1} without the
    final t_N = 0, which is appended here. Heun's 2nd-order steps, the last step Euler (its t_{i+1}
    is 0); with ``heun=False`` Euler throughout. ``extra_args`` go to every denoiser call
    (``labels`` of a conditional network), as in k-diffusion. ``callback({"i", "x", "sigma",
    "denoised"})`` sees every step; ``early_stop=k`` stops at step k and returns D(x_k; t_k)
    (partial inference).
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    extra_args = extra_args or {}
    n = len(sigmas)
    if early_stop is not None and not 0 <= early_stop < n:
        raise ValueError(f"early_stop must be in [0, {n - 1}], got {early_stop}")
    t_steps = torch.cat([sigmas, sigmas.new_zeros(1)])
    x = x_init
    batch = x.shape[0]
    for i in range(n):
        t_cur, t_next = float(t_steps[i]), float(t_steps[i + 1])
        denoised = denoise(x, x.new_full((batch,), t_cur), **extra_args)
        if callback is not None:
            callback({"i": i, "x": x, "sigma": t_cur, "denoised": denoised})
        if early_stop is not None and i == early_stop:
            return denoised
        d_cur = (x - denoised) / t_cur                       # Algorithm 2, line 7
        x_next = x + (t_next - t_cur) * d_cur                # Euler step, line 8
        if heun and t_next > 0:                              # 2nd-order correction, lines 9-11
            d_prime = (x_next - denoise(x_next, x.new_full((batch,), t_next), **extra_args)) / t_next
            x_next = x + (t_next - t_cur) * (0.5 * d_cur + 0.5 * d_prime)
        x = x_next
    return x


def generate(denoise: Denoiser, seeds: Sequence[int], shape: Sequence[int], n_steps: int = 18,
             device: Union[str, torch.device] = "cpu", batch_size: int = 256, heun: bool = True,
             early_stop: Optional[int] = None, sigma_min: float = SIGMA_MIN,
             sigma_max: float = SIGMA_MAX, rho: float = RHO,
             callback: Optional[StepCallback] = None, progress: bool = False,
             labels: Optional[Tensor] = None) -> Tensor:
    """Generate one sample per seed with :func:`sample`; returns a CPU float32 tensor.

    Initial noise is drawn per sample on the CPU, so sample i depends only on seeds[i] (and its
    label, ``labels[i]``, for a conditional denoiser; None: unconditional). The callback sees the
    steps of each batch in turn (``"i"`` starts at 0 for each).
    """
    from .progress import progress_bar

    sigmas = edm_sigmas(n_steps, sigma_min, sigma_max, rho)
    if labels is not None and len(labels) != len(seeds):
        raise ValueError(f"need one label per seed, got {len(labels)} labels for {len(seeds)} seeds")
    outs = []
    starts = range(0, len(seeds), batch_size)
    for start in progress_bar(starts, desc="sampling", disable=not progress, leave=False):
        chunk = list(seeds[start:start + batch_size])
        x = per_sample_noise(chunk, shape).to(device) * sigma_max
        extra = None if labels is None else {"labels": labels[start:start + len(chunk)].to(device)}
        outs.append(sample(denoise, x, sigmas, heun=heun, early_stop=early_stop,
                           callback=callback, extra_args=extra).float().cpu())
    return torch.cat(outs) if outs else torch.empty((0,) + tuple(shape))


def _as_batch(sigma: Union[Tensor, float], x: Tensor) -> Tensor:
    """sigma as a (batch,) float tensor on x's device."""
    sigma = torch.as_tensor(sigma, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    return sigma.to(x.device)
