"""Where sampling trajectories go: the states x_k of the sampler against noisy training and noisy
validation samples at the same noise level sigma_k.

At every step the module compares three sets of points at noise level sigma_k: the trajectory
states, fresh noisy training samples y_i + sigma_k n and noisy validation samples v_j + sigma_k n.
For each point it measures the distance to the nearest training image (in units of
sigma_k sqrt(D), the length of the noise), the log-density under the noisy empirical training
distribution p_sigma(x) = mean_i N(x; y_i, sigma^2 I) and the concentration of the optimal
denoiser's posterior at x (largest weight, entropy). The overlap score of a set with the noisy
training samples is the AUC of telling them apart by that log-density (0.5: indistinguishable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import analytic, cache, diffusion, toy
from ..seeds import TRAJECTORY_NOISE, TRAJECTORY_STEP
from ..runs import TrainedRun
from . import metrics

Tensor = torch.Tensor
_SOURCES = cache.sources("measure/trajectories.py", "analytic.py", "measure/metrics.py", "diffusion.py", "toy.py", "seeds.py")
SETS = ("trajectory", "train", "val")


def auc(positive, negative) -> float:
    """P(a positive score > a negative score) + P(equal) / 2 (Mann-Whitney), by ranks."""
    from scipy.stats import rankdata

    pos, neg = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("need at least one score in each set")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def overlap_auc(query_logp, train_logp) -> float:
    """AUC of telling noisy training samples from queries by log-density (the training samples are
    the positives): 0.5 = the queries are as dense as noisy training samples, 1 = never."""
    return auc(train_logp, query_logp)


def normalized_nn_distance(x: Tensor, train: Tensor, sigma: float) -> np.ndarray:
    """Distance from each row of x to its nearest training row, divided by sigma sqrt(D)."""
    d, _ = metrics.nearest_neighbors(x, train, k=1)
    return d[:, 0] / (float(sigma) * math.sqrt(x.shape[1]))


def _reference_seed(seed: int, step: int, offset: int = 0) -> int:
    """The first noise seed of a noisy reference set at sampler step ``step`` (:data:`TRAJECTORY_NOISE`;
    ``offset`` 0: train, 50,000: val, 75,000: the copies)."""
    return TRAJECTORY_NOISE.seed(seed, TRAJECTORY_STEP * step + offset)


def noisy_samples(points: Tensor, sigma: float, n: int, seed: int) -> Tensor:
    """n noisy points y_j + sigma n_j, cycling through ``points``; per-sample seeded noise."""
    idx = torch.arange(n) % len(points)
    noise = diffusion.per_sample_noise([seed + j for j in range(n)], points.shape[1:], dtype=points.dtype)
    return points[idx] + float(sigma) * noise


def point_stats(x: Tensor, sigma: float, train: Tensor) -> Dict[str, np.ndarray]:
    """Per-point measurements at one noise level (x, train: (M, D) and (N, D), float64)."""
    post = analytic.posterior_stats(x, float(sigma), train, want_mean=False)
    return {"nn_dist": normalized_nn_distance(x, train, sigma),
            "logp": analytic.log_density(x, float(sigma), train).numpy(),
            "max_weight": post.max_weight.numpy(), "entropy": post.entropy.numpy()}


@dataclass
class TrajectoryStats:
    """Measurements per step k (rows) for the trajectory states and the two noisy reference sets."""

    sigmas: np.ndarray                      # (K,)
    values: Dict[str, Dict[str, np.ndarray]]  # set -> measurement -> (K, M_set)
    auc_trajectory: np.ndarray              # (K,) overlap AUC of trajectory states vs noisy train
    auc_val: np.ndarray                     # (K,) the same for noisy val samples (the reference, the null)
    auc_copier: np.ndarray                  # (K,) the same for noisy train samples of a second noise draw

    def mean(self, set_name: str, measurement: str) -> np.ndarray:
        return self.values[set_name][measurement].mean(1)


def trajectory_stats(states, sigmas, train, val, n_ref: int = 300, seed: int = 0) -> TrajectoryStats:
    """Compare trajectory states (K, M, ...) at sigmas (K,) with noisy train and val samples."""
    states = torch.as_tensor(states)
    k_steps, m = states.shape[:2]
    flat = states.reshape(k_steps, m, -1).to(torch.float64)
    train = torch.as_tensor(train).reshape(len(train), -1).to(torch.float64)
    val = torch.as_tensor(val).reshape(len(val), -1).to(torch.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    values = {s: {} for s in SETS}
    auc_t, auc_v, auc_c = np.empty(k_steps), np.empty(k_steps), np.empty(k_steps)
    for k in range(k_steps):
        s = float(sigmas[k])
        sets = {"trajectory": flat[k],
                "train": noisy_samples(train, s, n_ref, _reference_seed(seed, k)),
                "val": noisy_samples(val, s, n_ref, _reference_seed(seed, k, 50_000))}
        for name, x in sets.items():
            for meas, v in point_stats(x, s, train).items():
                values[name].setdefault(meas, []).append(v)
        auc_t[k] = overlap_auc(values["trajectory"]["logp"][-1], values["train"]["logp"][-1])
        auc_v[k] = overlap_auc(values["val"]["logp"][-1], values["train"]["logp"][-1])
        # the copier: states that are noisy training images themselves (a second noise draw)
        copies = noisy_samples(train, s, n_ref, _reference_seed(seed, k, 75_000))
        auc_c[k] = overlap_auc(analytic.log_density(copies, s, train).numpy(), values["train"]["logp"][-1])
    values = {n: {meas: np.stack(v) for meas, v in d.items()} for n, d in values.items()}
    return TrajectoryStats(sigmas, values, auc_t, auc_v, auc_c)


def cached_trajectory_stats(key, states, sigmas, train, val, n_ref: int = 300, seed: int = 0) -> TrajectoryStats:
    """:func:`trajectory_stats`, cached under ``key`` (JSON-able; it must identify the states)."""
    def compute():
        st = trajectory_stats(states, sigmas, train, val, n_ref, seed)
        return {"sigmas": torch.from_numpy(st.sigmas), "auc_t": torch.from_numpy(st.auc_trajectory),
                "auc_v": torch.from_numpy(st.auc_val), "auc_c": torch.from_numpy(st.auc_copier),
                "values": {n: {m: torch.from_numpy(v) for m, v in d.items()} for n, d in st.values.items()}}

    out = cache.cached_result("trajectory-stats", {"key": key, "n_ref": n_ref, "seed": seed}, compute, _SOURCES)
    return TrajectoryStats(out["sigmas"].numpy(), {n: {m: v.numpy() for m, v in d.items()}
                                                   for n, d in out["values"].items()},
                           out["auc_t"].numpy(), out["auc_v"].numpy(), out["auc_c"].numpy())


def bootstrap_spearman(a, b, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Tuple[float, float, float]:
    """Spearman rank correlation of paired samples with a percentile bootstrap interval
    (resampling the pairs): (rho, low, high)."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 3:
        raise ValueError(f"need two 1-D arrays of equal length >= 3, got {a.shape} and {b.shape}")
    rho = metrics.rank_correlation(a, b)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    ra = np.apply_along_axis(rankdata, 1, a[idx])
    rb = np.apply_along_axis(rankdata, 1, b[idx])
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    boots = np.where(denom > 0, (ra * rb).sum(1) / np.where(denom > 0, denom, 1), np.nan)
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if len(boots) else (np.nan, np.nan)
    return rho, float(lo), float(hi)


def toy_trajectories(train: np.ndarray, delta: float, n_samples: int, n_steps: int = toy.TRAJECTORY_STEPS,
                     seed: int = 0) -> Dict[str, np.ndarray]:
    """Toy-model Euler trajectories as (states at sigma_k (K, M, 2), sigmas (K,), final (M, 2))."""
    states, sigmas = toy.sample_trajectories(train, delta, n_samples, n_steps=n_steps, seed=seed)
    return {"states": states[:-1], "sigmas": sigmas, "final": states[-1]}


def run_trajectory_stats(run: TrainedRun, step: int, n_samples: int = 300, n_steps: int = 18, seed: int = 0,
                         n_ref: int = 300) -> TrajectoryStats:
    """:func:`trajectory_stats` of one snapshot's sampler record (:func:`inference.snapshot_sampler_record`,
    the same cache entry as the final and partial samples), against the run's training and
    validation images."""
    from . import inference

    rec = inference.snapshot_sampler_record(run, step, n_samples, n_steps, seed)
    key = {"run": run.key, "step": int(step), "n": int(n_samples), "n_steps": int(n_steps),
           "seed": int(seed)}
    return cached_trajectory_stats(key, rec["states"], rec["sigmas"].numpy(), run.splits.train.images,
                                   run.splits.val.images, n_ref=n_ref, seed=seed)


# ----------------------------------------------------------------------------------------------
# Overlap claims over draws (sample seeds with their own noisy references)

AUC_BAND = (0.6, 0.95)  # noisy-val AUCs at which the overlap score neither saturates nor vanishes


def band_steps(auc_reference, band: Sequence[float] = AUC_BAND) -> np.ndarray:
    """Indices of the sampler steps whose reference AUC (noisy val against noisy train, e.g. the
    mean over draws) lies in [band[0], band[1]]: the noise levels where the overlap score can
    tell sets apart (at AUC 1 every set is far from the noisy training data, near 0.5 every set
    overlaps it). Empty when no step qualifies."""
    if len(band) != 2:
        raise ValueError(f"band must be [lo, hi], got {list(band)}")
    lo, hi = float(band[0]), float(band[1])
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"band must be [lo, hi] with 0 <= lo <= hi <= 1, got {list(band)}")
    a = np.asarray(auc_reference, dtype=np.float64)
    return np.flatnonzero((a >= lo) & (a <= hi))


def excess_auc(draws: Sequence[TrajectoryStats], steps=None) -> np.ndarray:
    """AUC(trajectory states) - AUC(noisy reference) per draw (rows) and step (columns; all steps,
    or ``steps``): negative where the states overlap the noisy training data more than the
    reference set does."""
    out = np.stack([np.asarray(d.auc_trajectory) - np.asarray(d.auc_val) for d in draws])
    return out if steps is None else out[:, np.asarray(steps, dtype=int)]


@dataclass
class StepVerdict:
    """A criterion judged at several sampler steps, each on the interval over draws."""

    verdict: str          # the weakest per-step verdict; INCONCLUSIVE when there is no step
    steps: np.ndarray     # the steps judged
    mean: np.ndarray      # per step: mean over draws
    lo: np.ndarray        # per step: 90% bootstrap interval
    hi: np.ndarray
    verdicts: list        # per step
    deciding: Optional[int]  # position (in steps) of the step that decides the verdict; None without steps


def judge_steps(values, steps, comparison: str, threshold: float, level: float = 0.9,
                seed: int = 0) -> StepVerdict:
    """Judge ``value <comparison> threshold`` at every step on the bootstrap interval of the mean
    over draws (``values``: (draws, len(steps))). The claim's verdict is the weakest of the
    per-step verdicts (PASS only when every step passes); the deciding step is the one with the
    weakest verdict and, among those, the mean furthest on the wrong side of the threshold."""
    from .verdicts import ORDER, bootstrap_interval, verdict

    steps = np.asarray(steps, dtype=int)
    if len(steps) == 0:
        empty = np.empty(0)
        return StepVerdict("INCONCLUSIVE", steps, empty, empty, empty, [], None)
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(steps))
    stats = [bootstrap_interval(values[:, j], level=level, seed=seed) for j in range(len(steps))]
    mean, lo, hi = (np.array([s[i] for s in stats]) for i in range(3))
    verdicts = [verdict(l, h, comparison, threshold) for l, h in zip(lo, hi)]
    sign = 1.0 if comparison in (">", ">=") else -1.0  # how far a mean lies on the right side
    deciding = min(range(len(steps)), key=lambda j: (ORDER[verdicts[j]], sign * (mean[j] - threshold)))
    return StepVerdict(verdicts[deciding], steps, mean, lo, hi, verdicts, deciding)


def shell_distances(states, sigmas, train, val, n_ref: int = 300, seed: int = 0) -> Dict[str, np.ndarray]:
    """The normalized distance r = min_i ||x - y_i|| / (sigma_k sqrt(D)) of every trajectory state
    and of the same noisy training and noisy validation samples as :func:`trajectory_stats` (same
    seeds), per step: ``{"trajectory": (K, M), "train": (K, n_ref), "val": (K, n_ref)}``. A noisy
    training image has r of about 1, a noisy fresh image more; a state below the noisy training
    images' r is closer to a training image than its noisy versions are."""
    states = torch.as_tensor(states)
    k_steps, m = states.shape[:2]
    flat = states.reshape(k_steps, m, -1).to(torch.float64)
    train = torch.as_tensor(train).reshape(len(train), -1).to(torch.float64)
    val = torch.as_tensor(val).reshape(len(val), -1).to(torch.float64)
    out = {name: [] for name in SETS}
    for k, s in enumerate(np.asarray(sigmas, dtype=np.float64)):
        s = float(s)
        sets = {"trajectory": flat[k], "train": noisy_samples(train, s, n_ref, _reference_seed(seed, k)),
                "val": noisy_samples(val, s, n_ref, _reference_seed(seed, k, 50_000))}
        for name, x in sets.items():
            out[name].append(normalized_nn_distance(x, train, s))
    return {name: np.stack(v) for name, v in out.items()}


def shell_index(r: Dict[str, np.ndarray]) -> np.ndarray:
    """Per step (K,): (mean r of noisy val - mean r of the states) / (mean r of noisy val - mean r of
    noisy train): 0 when the states lie as far from the training images as noisy fresh images, 1
    when they lie as close as noisy training images (the shell a perfect memorizer's trajectories
    run in)."""
    v, t, c = r["val"].mean(1), r["trajectory"].mean(1), r["train"].mean(1)
    return (v - t) / (v - c)


def separation_auc(r_states: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """Per step (K,): the AUC with which the distances r of trajectories that end in a copy are
    smaller than those of the others (0.5: no difference); nan when either group is empty."""
    copies = np.asarray(copies, dtype=bool)
    if copies.all() or not copies.any():
        return np.full(len(r_states), np.nan)
    return np.array([auc(-row[copies], -row[~copies]) for row in np.asarray(r_states)])
