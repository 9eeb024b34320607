"""The book's training runs, defined once.

Several chapters use the same trained networks: the training-gap chapter trains them, the
inference, trajectory and factor chapters load them from the cache. Building every config here
keeps their cache keys identical across chapters. Each function takes the chapter parameters
that change a run and returns a :class:`~diffgen_lib.train.TrainConfig`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, Sequence, Tuple

from . import evaluation
from .train import TrainConfig, TrainedRun, train

# Every run keeps this many evenly spaced snapshots, so all runs can be followed through training.
N_SNAPSHOTS = 6
# Classifier-free guidance needs the NULL label during training (Ho & Salimans 2022 use 0.1-0.2).
CFG_LABEL_DROPOUT = 0.1


def snapshot_schedule(max_steps: int, n: int = N_SNAPSHOTS) -> Tuple[int, ...]:
    """n evenly spaced steps ending at max_steps (duplicates removed for tiny runs)."""
    if max_steps < 1 or n < 1:
        raise ValueError(f"need max_steps >= 1 and n >= 1, got {max_steps}, {n}")
    return tuple(sorted({max(1, round(max_steps * (k + 1) / n)) for k in range(n)}))


def gap_run(dataset: str = "digits", n_train: int = 300, channels: int = 32, steps: int = 1500,
            labels: str = "none", n_clusters: int = 0, seed: int = 0, device: str = "auto",
            n_val: int = 500, n_feature: int = 500, root=None, **overrides) -> TrainConfig:
    """The book's main run (the training-gap chapter's defaults) and its variants.

    Conditional runs (``labels`` "class" or "kmeans") drop the label with probability
    :data:`CFG_LABEL_DROPOUT`, so the same network also serves classifier-free guidance.
    """
    conditional = labels == "class" or (labels == "kmeans" and n_clusters > 0)
    config = TrainConfig(dataset=dataset, n_train=n_train, n_val=n_val, n_feature=n_feature,
                         labels=labels, n_clusters=n_clusters, channels=channels, max_steps=steps,
                         snapshot_steps=snapshot_schedule(steps),
                         label_dropout=CFG_LABEL_DROPOUT if conditional else 0.0,
                         seed=seed, device=device, root=None if root is None else str(root))
    return replace(config, **overrides) if overrides else config


def width_runs(widths: Sequence[int], **kwargs) -> Dict[int, TrainConfig]:
    """One run per U-Net base width at equal steps (model size, claim C2)."""
    return {w: gap_run(channels=w, **kwargs) for w in widths}


def size_runs(n_trains: Sequence[int], **kwargs) -> Dict[int, TrainConfig]:
    """One run per training-set size at equal steps (dataset size)."""
    return {n: gap_run(n_train=n, **kwargs) for n in n_trains}


def load_size_runs(n_trains: Sequence[int], **kwargs) -> Tuple[Dict[int, TrainConfig], Dict[int, TrainedRun],
                                                              Dict[int, "evaluation.GapCurves"]]:
    """The size runs with their training-gap curves, trained or loaded from the cache:
    (configs, runs, curves), each keyed by the training-set size."""
    configs = size_runs(n_trains, **kwargs)
    return (configs, {n: train(c) for n, c in configs.items()},
            {n: evaluation.gap_curves(c) for n, c in configs.items()})
