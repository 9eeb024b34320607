"""Claim verdicts with uncertainty: the three-valued verdict an interval over draws supports
(the intervals: :mod:`intervals`).

A criterion fixed before the measurement ("<= 0.1") is met by the whole interval (PASS), by none
of it (FAIL), or by part of it (INCONCLUSIVE): a single noisy draw near a threshold decides nothing.
"""

from __future__ import annotations

import operator
from typing import Callable, Sequence

from . import intervals

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
ORDER = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}  # weakest first
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def bootstrap_interval(draws: Sequence[float], level: float = 0.9, n_boot: int = 2000,
                       seed: int = 0, statistic: str = "mean") -> tuple[float, float, float]:
    """(value, lo, hi) of :func:`intervals.bootstrap`."""
    e = intervals.bootstrap(draws, level, n_boot, seed, statistic)
    return e.value, e.lo, e.hi


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
