"""The calibrated statistics as pure functions of nearest-neighbour values and draws.

- :func:`nn_gap` and :func:`nn_cos`: a sample set's nearest-neighbour gap and 1-NN probe against a
  train and a val reference (the FD statistics are :class:`diffgen_lib.measure.metrics.FDReference`);
- :func:`memorization_index` and :func:`index_draws`: a statistic put on the scale where fresh data
  (the null) is 0 and copies of the training set (the copier) are 1.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch


def nn_gap(d_train, d_val) -> float:
    """The nearest-neighbour gap (mean d_val - mean d_train) / mean d_val of a sample set, from each
    sample's distance to its nearest image of the train and of the val reference: 0 for fresh
    data, 1 for exact copies of a full train reference (no covariance: no small-sample bias)."""
    a, b = float(torch.as_tensor(d_train).double().mean()), float(torch.as_tensor(d_val).double().mean())
    return (b - a) / b


def nn_cos(sim_train, sim_val) -> float:
    """The 1-NN probe: mean 1-NN cosine similarity to the train reference minus that to the val
    reference."""
    return float(torch.as_tensor(sim_train).double().mean() - torch.as_tensor(sim_val).double().mean())


def memorization_index(model, null, copier):
    """m = (model - null) / (copier - null), broadcast over draws: 0 like fresh data, 1 like copies."""
    model, null, copier = (np.asarray(v, dtype=np.float64) for v in (model, null, copier))
    return (model - null) / (copier - null)


def index_draws(model, null, copier) -> np.ndarray:
    """Per-draw memorization indices: ``model`` (..., S, R) over sample seeds and reference draws,
    ``null`` and ``copier`` (..., R) once per reference draw; returns (..., S, R)."""
    null, copier = np.asarray(null)[..., None, :], np.asarray(copier)[..., None, :]
    return memorization_index(model, null, copier)


def stack_draws(rows: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Per-draw statistics ``{stat: (n,)}`` of several draws, concatenated along the draws."""
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
