"""The exchanged null: every calibrated statistic for fresh data when the "training set" is itself
a fresh draw of held-out images (:func:`exchange_null`), and its cached driver for a run
(:func:`run_exchange_null`)."""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np
import torch

from .. import cache, features
from ..runs import TrainedRun
from ..seeds import EXCHANGE_DRAWS
from . import inference, metrics
from .calibration import _SOURCES, Calibration
from .references import MIN_NULL_POOL, heldout_pool
from .statistics import stack_draws

Tensor = torch.Tensor
N_DRAWS = 20        # draws of the exchanged null


def exchange_null(train_labels, held_images: Tensor, held_labels, spaces: Dict[str, Callable], n_gen: int,
                  n_ref: int, n_draws: int = N_DRAWS, seed: int = 0,
                  min_null: int = MIN_NULL_POOL) -> Dict[str, np.ndarray]:
    """The null with the training set exchanged for held-out images: what every statistic is for
    fresh data when the "training set" is itself a fresh draw.

    The null of :class:`Calibration` compares fresh images with *this* training set, which stays
    fixed over the reference draws: whatever is particular to these N images (their mean and
    covariance are one sample of the data's) is an offset the reference draws never vary. Here each
    draw e puts a stand-in of held-out images, with the training set's class counts and size (fewer
    when the held-out images are too few for three disjoint sets), in the training set's place
    and computes the null's statistics by the same code (:meth:`Calibration.calibration_statistics`,
    one reference draw). Stand-in, val reference and null are exchangeable, so every statistic is
    0 in expectation and its interval over the draws shows whether the statistic has a floor (or a
    bias) of its own. Returns ``{"<space>/<stat>": (n_draws,), ..., "n_ref": size of the references}``.
    """
    train_labels, held_labels = np.asarray(train_labels), np.asarray(held_labels)
    n_held = len(held_labels)
    size = min(len(train_labels), (n_held - min_null) // 2)
    if size < 2:
        raise ValueError(f"{n_held} held-out images are too few for an exchanged null (need > {min_null + 3})")
    rows, n = [], None
    for e in range(int(n_draws)):
        rng = EXCHANGE_DRAWS.generator(seed, e)
        wanted = train_labels if size == len(train_labels) else train_labels[rng.choice(len(train_labels), size, replace=False)]
        stand_in = metrics.matched_subsets(held_labels, wanted, 1, seed=int(rng.integers(2 ** 31)),
                                           fallback=True)[0]
        rest = np.setdiff1d(np.arange(n_held), stand_in)
        idx_s, idx_r = torch.from_numpy(stand_in), torch.from_numpy(rest)
        cal = Calibration(held_images[idx_s], held_labels[stand_in], held_images[idx_r], held_labels[rest],
                          spaces, n_gen, n_ref, 1, seed=int(rng.integers(2 ** 31)), min_null=min_null)
        n = cal.n_ref
        rows.append(cal.calibration_statistics()["null"])
    out = stack_draws(rows)
    out.pop("copy_fraction", None)
    out["n_ref"] = np.asarray(n)
    return out


def run_exchange_null(run: TrainedRun, n_gen: int = 300, n_ref: int = 300, ref_seed: int = 0,
                      extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[str, np.ndarray]:
    """:func:`exchange_null` of a run's data in the spaces of :func:`features.feature_spaces`,
    cached (it depends on the run only through its splits and its feature classifier)."""
    key = {"split": inference.split_identity(run), "n_gen": int(n_gen), "n_ref": int(n_ref),
           "ref_seed": int(ref_seed), "n_draws": N_DRAWS}
    key = features.with_features_identity(key, extra_features)

    def compute():
        held_images, held_labels = heldout_pool(run)
        out = exchange_null(run.splits.train.labels, held_images, held_labels,
                            features.feature_spaces(run.config, extra_features), n_gen, n_ref, seed=ref_seed)
        return {k: torch.from_numpy(np.asarray(v)) for k, v in out.items()}

    r = cache.cached_result("exchange-null", key, compute, _SOURCES)
    return {k: v.numpy() for k, v in r.items()}
