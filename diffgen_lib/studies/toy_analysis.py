"""Summaries of the 2-D toy model used by the toy-model chapter: the weight the
smoothed-data denoiser puts on its input, the "effective" model error of autoguidance, matching a
guided peak gap to an unguided model error, exact recall of training points by samples.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..measure import metrics


def identity_weight(sigma, delta: float):
    """a = delta^2 / (sigma^2 + delta^2), the weight y_delta puts on its input x:
    y_delta = a x + (1 - a) y*(x; sqrt(sigma^2 + delta^2)). 1 for sigma << delta, 0 for sigma >> delta."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if delta < 0 or np.any(sigma <= 0):
        raise ValueError("need delta >= 0 and sigma > 0")
    return delta ** 2 / (sigma ** 2 + delta ** 2)


def effective_delta(sigma, delta_pos: float, delta_neg: float, weight: float):
    """Model error of an unguided model whose weight on x equals the autoguided model's.

    Autoguidance y = (1 + w) y_pos - w y_neg puts the weight (1 + w) a_pos - w a_neg on x
    (a = :func:`identity_weight`); since delta_neg > delta_pos this is below a_pos, which is the
    weight of a model with a smaller delta. Solving delta_eff^2 / (sigma^2 + delta_eff^2) = a_eff
    gives delta_eff = sigma sqrt(a_eff / (1 - a_eff)), 0 where a_eff <= 0. It accounts for the
    x-term only (the posterior-mean terms of the two models differ too), so it is a heuristic.
    """
    if not delta_neg > delta_pos >= 0 or weight < 0:
        raise ValueError(f"need delta_neg > delta_pos >= 0 and weight >= 0, got "
                         f"{delta_neg}, {delta_pos}, {weight}")
    sigma = np.asarray(sigma, dtype=np.float64)
    a = (1 + weight) * identity_weight(sigma, delta_pos) - weight * identity_weight(sigma, delta_neg)
    a = np.clip(a, 0.0, None)
    return sigma * np.sqrt(a / (1 - a))


def matched_delta(value: float, deltas: Sequence[float], peaks: Sequence[float]) -> float:
    """The model error at which the unguided peak gap equals ``value``, interpolating the curve
    (deltas, peaks) linearly; NaN if ``value`` is outside the range of ``peaks`` or the peaks are
    not strictly monotone in delta."""
    deltas, peaks = np.asarray(deltas, dtype=np.float64), np.asarray(peaks, dtype=np.float64)
    order = np.argsort(peaks)
    p, d = peaks[order], deltas[order]
    if len(p) < 2 or np.any(np.diff(p) <= 0) or not np.all(np.diff(np.sign(np.diff(d))) == 0):
        return math.nan
    if not p[0] <= value <= p[-1]:
        return math.nan
    return float(np.interp(value, p, d))


def recall_flags(points, train, tol: float) -> np.ndarray:
    """For each point, whether it lies within distance ``tol`` of some training point (exact recall)."""
    d, _ = metrics.nearest_neighbors(torch.as_tensor(np.asarray(points, dtype=np.float64)),
                                     torch.as_tensor(np.asarray(train, dtype=np.float64)), k=1)
    return np.asarray(d[:, 0] <= tol)


def recall_fraction(points, train, tol: float) -> float:
    """Fraction of points within distance ``tol`` of some training point (exact recall)."""
    return float(np.mean(recall_flags(points, train, tol)))


def worst_peak_ratio(peak_sigmas: Sequence[float], deltas: Sequence[float]) -> float:
    """max over curves of max(peak_sigma / delta, delta / peak_sigma): 1 when every gap peaks at
    sigma = delta; how far (as a factor) the worst one is off. Needs every delta > 0."""
    s, d = np.asarray(peak_sigmas, dtype=np.float64), np.asarray(deltas, dtype=np.float64)
    if np.any(d <= 0) or np.any(s <= 0):
        raise ValueError("peak sigmas and deltas must be > 0")
    return float(np.max(np.maximum(s / d, d / s)))
