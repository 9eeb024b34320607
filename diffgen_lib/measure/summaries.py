"""Summaries of a curve over noise levels (a gap curve, an index over sampler steps): its peak,
its value at a noise level, how its ends compare with the peak. One place for each, used by
every measurement and study.

A curve is a sequence of values on a grid of noise levels ``sigmas`` (any order unless said).
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import numpy as np


def peak(sigmas: Sequence[float], curve: Sequence[float]) -> Dict[str, float]:
    """The largest value of a curve (NaN ignored) and where it is: ``{"peak_gap", "peak_sigma",
    "index"}``."""
    curve = np.asarray(curve)
    k = int(np.nanargmax(curve))
    return {"peak_gap": float(curve[k]), "peak_sigma": float(np.asarray(sigmas)[k]), "index": k}


def peaks(sigmas: Sequence[float], curves) -> Dict[str, np.ndarray]:
    """:func:`peak` of every row of a (T, S) array of curves: ``{"peak_gap", "peak_sigma",
    "index"}``, (T,) each."""
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    idx = np.nanargmax(curves, axis=1)
    return {"peak_gap": curves[np.arange(len(curves)), idx], "peak_sigma": np.asarray(sigmas)[idx],
            "index": idx}


def nearest_index(sigmas: Sequence[float], sigma: float) -> int:
    """Index of the grid point (or sampler step) whose sigma is nearest to ``sigma`` in log scale."""
    return int(np.argmin(np.abs(np.log(np.asarray(sigmas, dtype=np.float64)) - math.log(sigma))))


def value_at_nearest(sigmas: Sequence[float], curve: Sequence[float], sigma: float) -> float:
    """The curve at the grid point nearest to ``sigma`` (:func:`nearest_index`)."""
    return float(np.asarray(curve)[nearest_index(sigmas, sigma)])


def value_at_sigma(sigmas: Sequence[float], curve: Sequence[float], sigma: float) -> float:
    """The curve read at ``sigma`` by linear interpolation in log sigma over its finite points,
    clamped to the grid's ends: the number a reader finds on the drawn curve (never above its peak)."""
    sigmas, curve = np.asarray(sigmas, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    order = np.argsort(sigmas)
    finite = np.isfinite(curve[order])
    return float(np.interp(math.log(sigma), np.log(sigmas[order][finite]), curve[order][finite]))


def end_ratio(curve: Sequence[float]) -> float:
    """max(|value at the first grid point|, |value at the last|) / peak value of one curve; inf
    when the peak is not positive (no peak to compare with)."""
    curve = np.asarray(curve, dtype=np.float64)
    top = float(np.nanmax(curve))
    if not top > 0:
        return math.inf
    return max(abs(curve[0]), abs(curve[-1])) / top


def interior(index: int, n: int, margin: int = 1) -> bool:
    """True when grid index ``index`` lies at least ``margin`` points inside a grid of ``n``."""
    return margin <= int(index) <= n - 1 - margin


def half_peak_band(sigmas: Sequence[float], curve: Sequence[float]) -> Tuple[float, float]:
    """(lowest, highest) sigma of the grid points where the curve exceeds half its peak."""
    sigmas, curve = np.asarray(sigmas, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    band = sigmas[curve > 0.5 * np.nanmax(curve)]
    return float(band.min()), float(band.max())


def steps_in(sigmas: Sequence[float], low: float, high: float) -> list:
    """Indices of the sampler steps (or grid points) whose sigma lies in [low, high]."""
    return [k for k, s in enumerate(np.asarray(sigmas, dtype=np.float64)) if low <= s <= high]
