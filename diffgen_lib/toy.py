"""The analytic 2-D toy model of the paper (Kaiser & Kollmann 2026): points on a circle, the smoothed-data
denoiser y_delta as the model with error delta, its flow field, Euler trajectories and the toy gap.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from . import analytic, diffusion
from .seeds import SAMPLES

RADIUS = 10.0
OFFSET = 1e-2
TRAJECTORY_STEPS = 40   # steps for trajectory and flow plots
GAP_STEPS = 120         # steps of the sigma grid for gap-versus-sigma curves


def circle_data(n: int, radius: float = RADIUS, symmetric: bool = True, offset: float = OFFSET,
                seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(train, val) points on a circle, each (n // 2, 2) float64.

    Symmetric: n equally spaced angles 2 pi (k/n + offset), alternating along the circle,
    train = points 0, 2, 4, ..., val = points 1, 3, 5, ... Random: n uniform angles drawn from
    ``seed``, the first half val, the second half train.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int >= 2 (train and val points together), got {n!r}")
    if symmetric:
        angles = 2 * np.pi * (np.arange(n) / n + offset)
    else:
        angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    points = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if symmetric:
        return points[0::2].copy(), points[1::2].copy()
    half = n // 2
    return points[half:].copy(), points[:half].copy()


def circle_points(n: int, seed: int = 0, radius: float = RADIUS) -> np.ndarray:
    """n points at uniform random angles on the whole circle (seeded), (n, 2) float64: samples of
    the data distribution the toy sets are drawn from."""
    angles = np.random.default_rng([int(seed), 7]).uniform(0, 2 * np.pi, int(n))
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def predictor(x: torch.Tensor, sigma, train: torch.Tensor, delta: float, guidance: float = 0.0,
              delta_neg: Optional[float] = None) -> torch.Tensor:
    """The toy model's prediction y_delta(x; sigma), optionally autoguided:
    y = y_delta + w (y_delta - y_delta_neg) with delta_neg > delta."""
    y = analytic.smoothed_denoiser(x, sigma, train, delta)
    if guidance == 0:
        return y
    if delta_neg is None or delta_neg <= delta:
        raise ValueError(f"autoguidance needs delta_neg > delta, got delta_neg={delta_neg}, delta={delta}")
    return y + guidance * (y - analytic.smoothed_denoiser(x, sigma, train, delta_neg))


def flow_field(train: np.ndarray, sigma: float, delta: float, extent: float = 14.0, resolution: int = 41,
               guidance: float = 0.0, delta_neg: Optional[float] = None):
    """Grid (X, Y) and the field (U, V) = y_delta(x; sigma) - x, which points to the prediction."""
    axis = np.linspace(-extent, extent, resolution)
    gx, gy = np.meshgrid(axis, axis)
    x = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    y = predictor(x, sigma, torch.from_numpy(train), delta, guidance, delta_neg)
    field = (y - x).numpy()
    return gx, gy, field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape)


def sample_trajectories(train: np.ndarray, delta: float, n_samples: int, n_steps: int = TRAJECTORY_STEPS,
                        seed: int = 0, guidance: float = 0.0, delta_neg: Optional[float] = None):
    """Euler trajectories of the toy sampler (EDM schedule, x_0 ~ N(0, 80^2 I)).

    Returns (states, sigmas): states (n_steps + 1, n_samples, 2) from x_0 to the final sample,
    sigmas (n_steps,) the noise level of each state but the last (which is at sigma 0).
    """
    train_t = torch.from_numpy(np.asarray(train, dtype=np.float64))
    sigmas = diffusion.edm_sigmas(n_steps)
    x0 = diffusion.per_sample_noise(SAMPLES.seeds(n_samples, seed), (2,),
                                    dtype=torch.float64) * float(sigmas[0])
    states = [x0]

    def record(step):
        if step["i"] > 0:
            states.append(step["x"].clone())

    final = diffusion.sample(lambda x, s: predictor(x, s, train_t, delta, guidance, delta_neg),
                             x0, sigmas, heun=False, callback=record)
    states.append(final)
    return torch.stack(states).numpy(), sigmas.numpy()


N_NOISE = 500           # noise draws per point of the toy gap (each point its own draws)
TRAIN_STREAM, VAL_STREAM = 0, 1  # noise streams of the point sets (see gap_curve)


def point_noise(n_points: int, n_noise: int, seed: int = 0, stream: int = 0) -> torch.Tensor:
    """Independent standard-normal 2-D noise draws per point: (n_points, n_noise, 2) float64.

    Point j of set ``stream`` draws from its own generator, seeded with (seed, stream, j)
    (numpy's SeedSequence), so its draws do not depend on how many points or draws the set has
    beyond its own n_noise (a longer run extends them) and every (set, point) pair is an
    independent stream."""
    if n_points < 0 or n_noise < 1:
        raise ValueError(f"need n_points >= 0 and n_noise >= 1, got {n_points}, {n_noise}")
    out = np.empty((n_points, n_noise, 2))
    for j in range(n_points):
        out[j] = np.random.default_rng([int(seed), int(stream), j]).standard_normal((n_noise, 2))
    return torch.from_numpy(out)


def local_frame(points: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Express draws (P, n, 2) given in each point's own (radial, tangential) frame in the plane's
    coordinates: point p's draws rotated by the angle of p."""
    theta = torch.atan2(points[:, 1], points[:, 0])
    c, s_ = theta.cos(), theta.sin()
    rot = torch.stack([torch.stack([c, -s_], 1), torch.stack([s_, c], 1)], 1)   # (P, 2, 2)
    return torch.einsum("pij,pnj->pni", rot, noise)


def shared_local_noise(points: torch.Tensor, n_noise: int, seed: int = 0) -> torch.Tensor:
    """One set of n_noise draws shared by all points, each expressed in the point's own (radial,
    tangential) frame: (P, n_noise, 2). Common random numbers: on a symmetric circle, points that
    are images of each other under a rotation of the training set get exactly the same errors
    (the gap along the circle is then exactly 0 at the training points)."""
    local = torch.randn(n_noise, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return local_frame(points, local[None].expand(len(points), -1, -1))


def _errors(points: torch.Tensor, sigmas, train: torch.Tensor, delta: float, noise: torch.Tensor,
            guidance: float = 0.0, delta_neg: Optional[float] = None,
            max_rows: int = 1 << 18) -> np.ndarray:
    """Non-squared error ||y(p + s n; s) - p|| averaged over the noise draws of each point:
    array (len(sigmas), len(points)). ``noise`` (P, n, 2): the draws of each point, the same at
    every sigma. Evaluated in chunks of at most ``max_rows`` noisy points."""
    n_noise = noise.shape[1]
    flat_noise = noise.reshape(-1, 2)
    clean = points[:, None, :].expand(-1, n_noise, -1).reshape(-1, 2)
    sig = np.asarray(sigmas, dtype=np.float64)
    per_chunk = max(1, max_rows // len(clean))
    out = []
    for start in range(0, len(sig), per_chunk):  # the analytic denoisers take one sigma per row
        s = torch.as_tensor(sig[start:start + per_chunk])
        x = (clean[None] + s[:, None, None] * flat_noise[None]).reshape(-1, 2)
        rows_sigma = s[:, None].expand(-1, len(clean)).reshape(-1)
        pred = predictor(x, rows_sigma, train, delta, guidance, delta_neg)
        err = (pred - clean.repeat(len(s), 1)).norm(dim=1)
        out.append(err.reshape(len(s), len(points), n_noise).mean(2).numpy())
    return np.concatenate(out)


def gap_curve(train: np.ndarray, val: np.ndarray, sigmas: Sequence[float], delta: float,
              n_noise: int = N_NOISE, seed: int = 0, guidance: float = 0.0,
              delta_neg: Optional[float] = None, paired: bool = True) -> np.ndarray:
    """Toy relative gap (E_val - E_train) / E_train at each sigma (the paper's toy protocol).

    Every training point gets its own n_noise noise draws (:func:`point_noise`, seeded by
    ``seed`` and the point), the same at every sigma; the error is the non-squared distance of
    the prediction to the clean point, averaged over draws and points. The draws are taken in each
    point's (radial, tangential) frame. ``paired``: validation point j reuses the draws of training
    point j (common random numbers for the difference of the two errors: where the model treats
    the two alike, at the smallest and the largest sigma, the gap is exactly 0, and elsewhere its
    Monte-Carlo error is several times smaller); else the val points draw their own, independent
    ones.
    """
    train_t = torch.from_numpy(np.asarray(train, dtype=np.float64))
    val_t = torch.from_numpy(np.asarray(val, dtype=np.float64))
    sigmas = np.asarray(sigmas, dtype=np.float64)
    noise_train = local_frame(train_t, point_noise(len(train_t), n_noise, seed, TRAIN_STREAM))
    noise_val = local_frame(val_t, point_noise(len(val_t), n_noise, seed,
                                               TRAIN_STREAM if paired else VAL_STREAM))
    e_train = _errors(train_t, sigmas, train_t, delta, noise_train, guidance, delta_neg).mean(1)
    e_val = _errors(val_t, sigmas, train_t, delta, noise_val, guidance, delta_neg).mean(1)
    return (e_val - e_train) / e_train


def gap_along_circle(train: np.ndarray, angles: Sequence[float], sigma: float, delta: float,
                     radius: float = RADIUS, n_noise: int = N_NOISE, seed: int = 0) -> np.ndarray:
    """Relative gap of points on the circle at the given angles against the mean training error:
    (E(theta) - E_train) / E_train at one sigma.

    Unlike :func:`gap_curve`, all probes and training points share one set of draws in their own
    (radial, tangential) frame (:func:`shared_local_noise`): the result is a smooth curve of the
    angle whose Monte-Carlo error is common to all angles, exactly 0 at the training points of
    a symmetric set, as the exact gap is."""
    train_t = torch.from_numpy(np.asarray(train, dtype=np.float64))
    angles = np.asarray(angles, dtype=np.float64)
    probes = torch.from_numpy(radius * np.stack([np.cos(angles), np.sin(angles)], 1))
    e_probe = _errors(probes, [sigma], train_t, delta, shared_local_noise(probes, n_noise, seed))[0]
    e_train = _errors(train_t, [sigma], train_t, delta, shared_local_noise(train_t, n_noise, seed))[0].mean()
    return (e_probe - e_train) / e_train
