"""What the model's samples are compared with: the held-out images, the reference draws, the
copier and a Gaussian fitted to the training set (:mod:`calibration` computes their statistics).

Each *reference draw* takes a train reference and a val reference of equal size ``n``
(:func:`reference_size`): the whole training set when it fits (then a copier matches the train
reference fully and nothing is diluted), else a random subset of it (a copier's signal is then
diluted by n / N); the val reference is drawn from the held-out images (:func:`heldout_pool`)
with the train reference's class counts, and the null from the held-out images left over. With
equal sizes and the same distribution, the null's statistics are 0 in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .. import diffusion
from ..seeds import COPIER_DRAWS, GAUSSIAN, REFERENCE_DRAWS
from . import metrics

Tensor = torch.Tensor
MIN_NULL_POOL = 100          # val images kept out of the val reference for the null, at least


def heldout_pool(run, max_extra: Optional[int] = None):
    """Images the run never trained on, for the val reference and the null: the val split, then
    up to ``max_extra`` (default: as many as the val split) images of the dataset that no split of
    the run uses (the pool order continues past the training set; a larger training set of the same
    split seed would take them). Returns (images, labels); labels are the run's kind of label
    (cluster ids for a k-means run)."""
    from .. import data

    cfg = run.config
    val = run.splits.val
    max_extra = len(val) if max_extra is None else int(max_extra)
    spare = data.check_dataset_name(cfg.dataset).size - cfg.n_val - cfg.n_feature - cfg.n_train
    extra = min(spare, max_extra)
    if extra <= 0:
        return val.images, val.labels
    larger = data.load_splits(cfg.dataset, cfg.n_train + extra, cfg.n_val, cfg.n_feature, seed=cfg.split_seed,
                              root=cfg.root)
    images = larger.train.images[cfg.n_train:]
    labels = larger.train.labels[cfg.n_train:] if run.clusters is None else run.clusters.assign(images)
    return torch.cat([val.images, images]), torch.cat([val.labels, labels.to(val.labels.dtype)])


@dataclass(frozen=True)
class ReferenceDraw:
    """One draw of the references and calibration sets (index arrays)."""

    train_ref: np.ndarray   # into the training set: the train reference (n)
    val_ref: np.ndarray     # into the held-out images: the val reference (n, class counts of train_ref)
    null: np.ndarray        # into the held-out images, outside val_ref, n_gen drawn with replacement
    copier: np.ndarray      # into the training set (all of it), n_gen drawn with replacement


def reference_size(n_train: int, n_val: int, n_ref: int, min_null: int = MIN_NULL_POOL) -> int:
    """Size n of both references: at most ``n_ref``, the training set (so the whole training set
    is the train reference when it fits) and the ``n_val`` held-out images less ``min_null`` for
    the null."""
    n = min(int(n_ref), int(n_train), int(n_val) - int(min_null))
    if n < 2:
        raise ValueError(f"references of {n} images: need n_val > {min_null + 1} (got {n_val}) "
                         f"and n_train, n_ref >= 2 (got {n_train}, {n_ref})")
    return n


def draw_references(train_labels, val_labels, n_gen: int, n_ref: int, seed: int = 0,
                    min_null: int = MIN_NULL_POOL) -> ReferenceDraw:
    """A seeded :class:`ReferenceDraw`: train reference (all training images, or a random subset
    of :func:`reference_size`), val reference of its size and class counts, null and copier."""
    train_labels, val_labels = np.asarray(train_labels), np.asarray(val_labels)
    n_train, n_val = len(train_labels), len(val_labels)
    n = reference_size(n_train, n_val, n_ref, min_null)
    rng = REFERENCE_DRAWS.generator(seed)
    train_ref = np.arange(n_train) if n == n_train else np.sort(rng.choice(n_train, n, replace=False))
    val_ref = metrics.matched_subsets(val_labels, train_labels[train_ref], 1, seed=int(rng.integers(2 ** 31)),
                                      fallback=True)[0]  # a class too rare in the val split: a random draw
    pool = np.setdiff1d(np.arange(n_val), val_ref)
    null = rng.choice(pool, int(n_gen), replace=True)
    copier = rng.choice(n_train, int(n_gen), replace=True)
    return ReferenceDraw(train_ref, val_ref, null, copier)


def copier_images(train_images: Tensor, n_gen: int, seed: int = 0) -> Tensor:
    """``n_gen`` training images drawn with replacement: the samples of a sampler that only copies."""
    rng = COPIER_DRAWS.generator(seed)
    return train_images[torch.from_numpy(rng.choice(len(train_images), int(n_gen), replace=True))]


class GaussianFit:
    """N(mean, covariance) of the training pixels: learns the moments, copies nothing."""

    def __init__(self, train_images: Tensor):
        x = train_images.reshape(len(train_images), -1).double()
        self.shape = tuple(train_images.shape[1:])
        self.mean = x.mean(0)
        self.root = metrics.psd_sqrt(torch.cov(x.T))

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """n samples; sample i uses its own CPU generator of :data:`GAUSSIAN` (set ``seed``)."""
        z = diffusion.per_sample_noise(GAUSSIAN.seeds(n, seed),
                                       (self.mean.numel(),), dtype=torch.float64)
        return (self.mean + z @ self.root).float().reshape((n,) + self.shape)
