"""Sample sets of a trained run, cached on disk, and the regime labels of a memorization index.
The statistics of the samples, next to fresh data (the null) and to copies of the training set
(the copier), with intervals: :mod:`calibration`.

One sampler pass per snapshot records every step: the state x_k, the noise level sigma_k and the
prediction D(x_k; sigma_k). The prediction at step k is exactly what early stopping at k returns
(:func:`diffusion.sample` with ``early_stop=k`` runs the same steps before it), so one pass gives
the final samples, every partial-inference set and the trajectories (:mod:`trajectories`) at once.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .. import cache, diffusion, features
from ..seeds import GUIDED_SAMPLES, SAMPLES
from . import metrics
from ..runs import TrainedRun

Tensor = torch.Tensor
_SOURCES = cache.sources("measure/inference.py", "diffusion.py", "seeds.py")
SAMPLE_BATCH = 500          # images per sampler batch of :func:`sample_set`


# ----------------------------------------------------------------------------------------------
# Sampler records


def sample_seeds(n: int, seed: int = 0) -> List[int]:
    """The per-sample noise seeds of a sample set: sample i depends only on (seed, i)."""
    return SAMPLES.seeds(n, seed)


def record_sampler(denoise: diffusion.Denoiser, seeds: Sequence[int], shape: Sequence[int],
                   n_steps: int = 18, device="cpu", batch_size: int = 256,
                   progress: bool = False, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """:func:`diffusion.generate` (the EDM Heun sampler, one sample per seed, ``labels`` for a
    conditional denoiser) keeping every step through its callback.

    Returns CPU float32 tensors: ``sigmas`` (K,) float64, ``states`` (K, M, *shape) the state x_k
    at sigma_k, ``denoised`` (K, M, *shape) D(x_k; sigma_k) (= partial inference stopped at k)
    and ``final`` (M, *shape) the samples.
    """
    states, denoised = [], []  # per batch: the K steps

    def keep(step):
        if step["i"] == 0:
            states.append([])
            denoised.append([])
        states[-1].append(step["x"].float().cpu())
        denoised[-1].append(step["denoised"].float().cpu())

    final = diffusion.generate(denoise, seeds, shape, n_steps, device, batch_size, callback=keep,
                               progress=progress, labels=labels)
    return {"sigmas": diffusion.edm_sigmas(n_steps), "states": torch.cat([torch.stack(b) for b in states], 1),
            "denoised": torch.cat([torch.stack(b) for b in denoised], 1), "final": final}


def _label_cycle(run: TrainedRun, n: int) -> Optional[Tensor]:
    """Labels of a conditional run's samples: the val split's labels in turn (its class prior)."""
    if not run.config.conditional:
        return None
    labels = run.splits.val.labels
    return labels[torch.arange(n) % len(labels)]


def snapshot_sampler_record(run: TrainedRun, step: int, n_samples: int = 300, n_steps: int = 18,
                   seed: int = 0) -> Dict[str, Tensor]:
    """:func:`record_sampler` for one snapshot of a run, cached by the run's key and the settings.

    A conditional run's samples get the val split's labels in turn (the val set's class prior).
    """
    if step not in run.snapshots:
        raise ValueError(f"run has no snapshot at step {step}; it has {sorted(run.snapshots)}")
    key = {"run": run.key, "step": int(step), "n": int(n_samples), "n_steps": int(n_steps),
           "seed": int(seed)}

    def compute():
        net = run.snapshots[step]
        device = next(net.parameters()).device
        return record_sampler(net, sample_seeds(n_samples, seed), run.splits.image_shape, n_steps, device,
                              labels=_label_cycle(run, n_samples))

    return cache.cached_result("sampler-record", key, compute, _SOURCES)


def split_identity(run: TrainedRun) -> dict:
    """What decides a run's data splits (not its training): the key of measurements that depend
    on the training images only, such as the optimal denoiser's."""
    c = run.config
    return {k: getattr(c, k) for k in ("dataset", "n_train", "n_val", "n_feature", "split_seed", "labels",
                                       "n_clusters")}


def optimal_sampler_record(run: TrainedRun, n_samples: int = 300, n_steps: int = 18, seed: int = 0) -> Dict[str, Tensor]:
    """:func:`record_sampler` driven by the optimal (empirical) denoiser of the run's training set
    (EDM, appendix B.3; :func:`analytic.image_denoiser`) from the same initial noise as the run's
    samples of sample set ``seed``: the sampler of a perfect memorizer, the positive control of the
    inference claims. For one training image y its probability-flow trajectory is
    x(sigma) = y + (sigma / sigma_max)(x_T - y): its states are noisy versions of y. Cached by the
    run's data split (no network is involved)."""
    from .. import analytic

    if run.config.labels == "kmeans":
        raise ValueError("the optimal-denoiser sampler supports unconditional and class-conditional runs")
    key = {"split": split_identity(run), "n": int(n_samples), "n_steps": int(n_steps), "seed": int(seed)}

    def compute():
        tr = run.splits.train
        cond = run.config.conditional
        den = analytic.image_denoiser(tr.images, tr.labels if cond else None)
        return record_sampler(den, sample_seeds(n_samples, seed), run.splits.image_shape, n_steps, "cpu",
                              labels=_label_cycle(run, n_samples))

    return cache.cached_result("optimal-sampler-record", key, compute, _SOURCES + cache.sources("analytic.py"))


def decided_share(record: Dict[str, Tensor], train_images: Tensor) -> np.ndarray:
    """The *decided share* at every sampler step k (K,): the fraction of samples whose nearest
    training image from the early-stopped output D(x_k; sigma_k) is already that of the final
    sample. Where it is near 1, early stopping returns what the final samples are, so partial
    inference cannot differ from the samples' own statistics."""
    _, final_nn = metrics.nearest_neighbors(record["final"], train_images, k=1)
    return np.array([float((metrics.nearest_neighbors(d, train_images, k=1)[1][:, 0] == final_nn[:, 0]).mean())
                     for d in record["denoised"]])


def sample_set(denoise: Callable, n: int, shape, labels: Optional[Tensor], n_steps: int = 18, device="cpu",
               seed_base: int = GUIDED_SAMPLES.seed()) -> Tensor:
    """n final samples of :func:`diffusion.generate` (batches of :data:`SAMPLE_BATCH`): sample i
    starts from noise seeded ``seed_base + i`` and uses ``labels[i]`` (None: unconditional)."""
    return diffusion.generate(denoise, range(seed_base, seed_base + n), shape, n_steps, device,
                              batch_size=SAMPLE_BATCH, labels=labels)


# ----------------------------------------------------------------------------------------------
# The feature classifier and the regime map


def classifier_val_accuracy(run: TrainedRun) -> float:
    """How well the feature classifier (trained on the feature split) classifies the val split."""
    classes = features.class_splits(run.config)
    return features.run_classifier(run.config).accuracy(classes.val.images, classes.val.labels)


def map_index_regimes(intervals: Sequence[Sequence[float]], copy_fractions: Sequence[float],
                      generalizes_below: float = 0.25, copies_above: float = 0.75,
                      copy_criterion: float = 0.1) -> List[str]:
    """Label each snapshot by the 90% interval (lo, hi) of its memorization index
    (:mod:`calibration`): "copies" when lo > ``copies_above`` or at least ``copy_criterion`` of the
    samples are copies (d1/d2 < 1/3); else "generalizes" when hi < ``generalizes_below``; else
    "in between"."""
    labels = []
    for (lo, hi), copies in zip(intervals, copy_fractions):
        if lo > copies_above or copies >= copy_criterion:
            labels.append("copies")
        elif hi < generalizes_below:
            labels.append("generalizes")
        else:
            labels.append("in between")
    return labels


def describe_regimes(steps, labels: Sequence[str]) -> str:
    """'generalizes at steps 250-750, copies at steps 1000-1500': runs of equal labels."""
    parts, start = [], 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[start]:
            span = f"step {steps[start]}" if k - 1 == start else f"steps {steps[start]}-{steps[k - 1]}"
            parts.append(f"{labels[start]} at {span}")
            start = k
    return ", ".join(parts)
