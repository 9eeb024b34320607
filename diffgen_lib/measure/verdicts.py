"""Claim verdicts with uncertainty: a percentile-bootstrap interval over draws (seeds, reference
draws) and the three-valued verdict it supports.

A criterion fixed before the measurement ("<= 0.1") is met by the whole interval (PASS), by none
of it (FAIL), or by part of it (INCONCLUSIVE): a single noisy draw near a threshold decides nothing.
"""

from __future__ import annotations

import operator
from typing import Callable, Sequence

import numpy as np

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
ORDER = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}  # weakest first
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def bootstrap_interval(draws: Sequence[float], level: float = 0.9, n_boot: int = 2000,
                       seed: int = 0, statistic: str = "mean") -> tuple[float, float, float]:
    """The ``statistic`` ("mean" or "median") of ``draws`` and its percentile-bootstrap
    ``level`` interval.

    Resamples the draws with replacement ``n_boot`` times (a seeded generator, so the interval
    is reproducible). One draw gives a zero-width interval at its value.
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    reduce = np.mean if statistic == "mean" else np.median
    x = np.asarray(draws, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least one finite draw, got {x.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    values = reduce(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(reduce(x)), float(lo), float(hi)


def grouped_bootstrap(groups: Sequence[Sequence[float]], statistic: Callable[[np.ndarray], float],
                      level: float = 0.9, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """A ``statistic`` of the group means (e.g. the rank correlation of a factor with the mean over
    training seeds of each setting) and its percentile-bootstrap ``level`` interval: each
    bootstrap sample resamples every group's draws with replacement, independently, and applies
    ``statistic`` to the vector of resampled group means."""
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if not groups or any(g.size == 0 or not np.all(np.isfinite(g)) for g in groups):
        raise ValueError("need at least one group, each with at least one finite draw")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = np.stack([g[rng.integers(0, g.size, size=(n_boot, g.size))].mean(1) for g in groups], axis=1)
    values = np.array([statistic(m) for m in means], dtype=np.float64)
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(statistic(np.array([g.mean() for g in groups]))), float(lo), float(hi)


def verdict(lo: float, hi: float, comparison: str, threshold: float) -> str:
    """PASS when every value in [lo, hi] meets ``value <comparison> threshold``, FAIL when none
    does, INCONCLUSIVE when the interval straddles the threshold."""
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {sorted(COMPARISONS)}, got {comparison!r}")
    if lo > hi:
        raise ValueError(f"interval [{lo}, {hi}] is empty")
    meets = COMPARISONS[comparison]
    low_ok, high_ok = meets(lo, threshold), meets(hi, threshold)
    if low_ok and high_ok:
        return "PASS"
    if not low_ok and not high_ok:
        return "FAIL"
    return "INCONCLUSIVE"



def all_verdict(flags: Sequence[bool]) -> str:
    """PASS when every draw meets a yes/no criterion, FAIL when none does, else INCONCLUSIVE."""
    flags = [bool(f) for f in flags]
    if not flags:
        raise ValueError("need at least one draw")
    return "PASS" if all(flags) else "FAIL" if not any(flags) else "INCONCLUSIVE"


def worst_verdict(*verdicts: str) -> str:
    """The weakest of several verdicts (FAIL < INCONCLUSIVE < PASS): a claim with several parts
    passes only when every part does."""
    for v in verdicts:
        if v not in ORDER:
            raise ValueError(f"not a verdict: {v!r}")
    return min(verdicts, key=ORDER.__getitem__)
