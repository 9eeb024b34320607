"""Intervals over repeated draws: every percentile bootstrap of the library, in one place.

A statistic measured several times (training seeds, sample seeds, reference draws, evaluation
images) is reported as an :class:`Estimate`: its value on all draws and a 90% percentile-bootstrap
interval (Efron & Tibshirani 1993), with a note of which sources of noise the draws cover. Every
resampling draws from a seeded NumPy generator, so an interval is the same on every machine.

- :func:`bootstrap`: the mean (or median) of exchangeable draws;
- :func:`nested_bootstrap`: draws grouped by an outer factor (training seeds): each replicate
  resamples the groups first, then the draws inside each chosen group;
- :func:`group_means_bootstrap`: a statistic of several groups' means (a rank correlation over
  settings, each with its own draws), each group resampled on its own;
- :func:`paired_bootstrap`: a statistic of per-image errors of two sets (train and val images),
  the same images for every row (snapshot, denoiser, noise level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

LEVEL = 0.9      # every interval of the book is a 90% interval
N_BOOT = 2000    # bootstrap replicates unless a caller says otherwise


@dataclass(frozen=True)
class Estimate:
    """A statistic's value (on all draws), its percentile-bootstrap interval [lo, hi], the number
    of draws and which sources of noise they cover (e.g. "3 training seeds x 3 sample seeds x 5
    reference draws")."""

    value: float
    lo: float
    hi: float
    n: int = 1
    covers: str = ""

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def text(self, fmt: Callable[[float], str] = lambda v: f"{v:.3g}") -> str:
        """"value [lo, hi]"."""
        return f"{fmt(self.value)} [{fmt(self.lo)}, {fmt(self.hi)}]"

    @classmethod
    def exact(cls, value: float, covers: str = "exact") -> "Estimate":
        """A number without noise (a closed form, a count): a zero-width interval."""
        return cls(float(value), float(value), float(value), 1, covers)

    # the names Summary had (mean, lo, hi)
    @property
    def mean(self) -> float:
        return self.value


def percentile_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap replicates. Replicates that are
    infinite in some draws (a ratio to a peak that is not positive) give the order statistics
    themselves, without interpolating with inf."""
    values = np.asarray(values, dtype=np.float64)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1 - level) / 2
    if np.isfinite(values).all():
        lo, hi = np.quantile(values, [tail, 1 - tail])
    else:
        lo, hi = np.quantile(values, tail, method="lower"), np.quantile(values, 1 - tail, method="higher")
    return float(lo), float(hi)


def _reducer(statistic: str):
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    return np.mean if statistic == "mean" else np.median


def bootstrap(draws, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0, statistic: str = "mean",
              covers: str = "") -> Estimate:
    """The ``statistic`` ("mean" or "median") of ``draws`` (any shape, flattened) and its
    percentile-bootstrap interval: the draws resampled with replacement ``n_boot`` times. One draw
    gives a zero-width interval at its value."""
    reduce = _reducer(statistic)
    x = np.asarray(draws, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least one finite draw, got {x.tolist()}")
    rng = np.random.default_rng(seed)
    lo, hi = percentile_interval(reduce(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1), level)
    return Estimate(float(reduce(x)), lo, hi, int(x.size), covers)


def nested_bootstrap(groups: Sequence, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0,
                     covers: str = "") -> Estimate:
    """The mean over groups of each group's mean draw, and its interval: each replicate resamples
    the groups (training seeds) with replacement, then the draws inside each chosen group (sample
    seeds x reference draws), so the interval covers both levels of noise. One group: the
    interval of :func:`bootstrap` over its draws (it covers only the inner noise; say so in
    ``covers``)."""
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if not groups or any(g.size == 0 or not np.all(np.isfinite(g)) for g in groups):
        raise ValueError("need at least one group, each with at least one finite draw")
    n = sum(g.size for g in groups)
    if len(groups) == 1:
        e = bootstrap(groups[0], level, n_boot, seed)
        return Estimate(e.value, e.lo, e.hi, n, covers)
    rng = np.random.default_rng(seed)
    k = len(groups)
    chosen = rng.integers(0, k, size=(n_boot, k))
    inner = [g[rng.integers(0, g.size, size=(n_boot, g.size))].mean(1) for g in groups]  # (n_boot,) per group
    replicates = np.stack(inner, axis=1)[np.arange(n_boot)[:, None], chosen].mean(1)
    lo, hi = percentile_interval(replicates, level)
    return Estimate(float(np.mean([g.mean() for g in groups])), lo, hi, n, covers)


def group_means_bootstrap(groups: Sequence, statistic: Callable[[np.ndarray], float], level: float = LEVEL,
                          n_boot: int = N_BOOT, seed: int = 0, covers: str = "") -> Estimate:
    """A ``statistic`` of the group means (e.g. the rank correlation of a factor with the mean over
    training seeds of each setting) and its interval: each replicate resamples every group's draws
    with replacement, independently, and applies ``statistic`` to the resampled group means."""
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if not groups or any(g.size == 0 or not np.all(np.isfinite(g)) for g in groups):
        raise ValueError("need at least one group, each with at least one finite draw")
    rng = np.random.default_rng(seed)
    means = np.stack([g[rng.integers(0, g.size, size=(n_boot, g.size))].mean(1) for g in groups], axis=1)
    values = np.array([statistic(m) for m in means], dtype=np.float64)
    lo, hi = percentile_interval(values, level)
    return Estimate(float(statistic(np.array([g.mean() for g in groups]))), lo, hi,
                    int(sum(g.size for g in groups)), covers)


def paired_bootstrap(train_errors, val_errors, statistic: Callable[[np.ndarray, np.ndarray], float],
                     level: float = LEVEL, n_boot: int = 1000, seed: int = 0, covers: str = "") -> Estimate:
    """``statistic(mean train errors, mean val errors)`` of per-image errors (..., n) (the mean is
    over the last axis) and its interval over the evaluation images: each replicate redraws the
    train and the val images with replacement, the same images in every row (snapshot, denoiser,
    noise level)."""
    tr, va = np.asarray(train_errors, np.float64), np.asarray(val_errors, np.float64)

    def value(i_tr, i_va):
        return statistic(tr[..., i_tr].mean(-1), va[..., i_va].mean(-1))

    rng = np.random.default_rng(seed)
    n_tr, n_va = tr.shape[-1], va.shape[-1]
    values = np.array([value(rng.integers(0, n_tr, n_tr), rng.integers(0, n_va, n_va)) for _ in range(n_boot)])
    lo, hi = percentile_interval(values, level)
    return Estimate(float(value(np.arange(n_tr), np.arange(n_va))), lo, hi, n_tr + n_va, covers)
