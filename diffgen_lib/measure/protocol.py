"""The paper's inference protocol as it is (uncalibrated): FD(gen, val) against FD(gen, train_k)
with fixed references (:class:`InferenceProtocol`)."""

from __future__ import annotations

from typing import Dict, Optional

import torch

from .. import features
from ..runs import TrainedRun
from . import metrics

Tensor = torch.Tensor


class InferenceProtocol:
    """FD(gen, val) against FD(gen, train_k), the paper's protocol as it is (uncalibrated), with
    fixed references: the first ``n_ref`` val images and ``n_subsets`` train subsets of the same
    size and class counts (the dataset's class labels, :func:`features.class_splits`; plain
    random subsets when a class is too rare in the training set, the fallback of
    :func:`metrics.matched_subsets`), in the spaces of :func:`features.feature_spaces`. The same
    FD code (:class:`metrics.FDReference`) as :class:`Calibration`, which adds the null and the
    copier and redraws the references."""

    def __init__(self, run: TrainedRun, n_ref: int, n_subsets: int, seed: int = 0, device="cpu",
                 extra_features: Optional[features.PretrainedFeatures] = None):
        config = run.config
        splits = features.class_splits(config)
        self.val_images = splits.val.images[:n_ref]
        train_labels, val_labels = splits.train.labels.numpy(), splits.val.labels[:n_ref].numpy()
        self.subsets = metrics.matched_subsets(train_labels, val_labels, n_subsets, seed, fallback=True)
        self.train_images = splits.train.images
        self.extractors = features.feature_spaces(config, extra_features, device)
        self.ref = {name: metrics.FDReference(features.as_numpy_features(f, self.train_images),
                                              features.as_numpy_features(f, self.val_images), self.subsets)
                    for name, f in self.extractors.items()}

    def __call__(self, samples: Tensor) -> Dict[str, metrics.InferenceGap]:
        return {name: self.ref[name].gap(features.as_numpy_features(f, samples))
                for name, f in self.extractors.items()}

    def table(self, samples: Tensor) -> Dict[str, float]:
        """``{"<space>/<field>": value}`` for the fields fd_val, fd_train, gap, fd_train_vs_val
        and fd_train_vs_train of every space."""
        out = {}
        for name, g in self(samples).items():
            for field_name in ("fd_val", "fd_train", "gap", "fd_train_vs_val", "fd_train_vs_train"):
                out[f"{name}/{field_name}"] = float(getattr(g, field_name))
        return out
