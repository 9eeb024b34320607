"""Does the training gap reach inference? Sample sets, the FD protocol over snapshots, partial
inference, the nearest-neighbour probe and copies (the paper's measurements), cached on disk.
The same statistics next to fresh data and to copies, with intervals: :mod:`calibration`.

One sampler pass per snapshot records every step: the state x_k, the noise level sigma_k and the
prediction D(x_k; sigma_k). The prediction at step k is exactly what early stopping at k returns
(:func:`diffusion.sample` with ``early_stop=k`` runs the same steps before it), so one pass gives
the final samples and every partial-inference set at once, and the trajectory chapter reads the
states from the same cache entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from . import cache, diffusion, features, metrics, summaries
from .progress import progress_bar
from .train import TrainConfig, TrainedRun, run_key, train

Tensor = torch.Tensor
_HERE = Path(__file__).resolve().parent
_SOURCES = [_HERE / name for name in ("inference.py", "diffusion.py", "metrics.py", "features.py")]
SEED_STRIDE = 1_000_003     # sample i of sample set ``seed`` uses noise seed seed * SEED_STRIDE + i
PROBE_NOISE_SEED = 31_337   # per-image noise of the nearest-neighbour probe's reconstructions


# ----------------------------------------------------------------------------------------------
# Sampler records


def sample_seeds(n: int, seed: int = 0) -> List[int]:
    """The per-sample noise seeds of a sample set: sample i depends only on (seed, i)."""
    return [seed * SEED_STRIDE + i for i in range(n)]


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


def sampler_record(config: TrainConfig, step: int, n_samples: int = 300, n_steps: int = 18, seed: int = 0,
                   run: Optional[TrainedRun] = None, progress: bool = False) -> Dict[str, Tensor]:
    """:func:`record_sampler` for one snapshot of a run, cached by the run's key and the settings.

    A conditional run's samples get the val split's labels in turn (the val set's class prior).
    """
    key = {"run": run_key(config), "step": int(step), "n": int(n_samples), "n_steps": int(n_steps),
           "seed": int(seed)}

    def compute():
        r = run if run is not None else train(config, progress=progress)
        if step not in r.snapshots:
            raise ValueError(f"run has no snapshot at step {step}; it has {sorted(r.snapshots)}")
        net = r.snapshots[step]
        device = next(net.parameters()).device
        return record_sampler(net, sample_seeds(n_samples, seed), r.splits.image_shape, n_steps, device,
                              labels=_label_cycle(r, n_samples))

    return cache.cached_result("sampler-record", key, compute, _SOURCES)


# ----------------------------------------------------------------------------------------------
# Reference sets and feature spaces


@dataclass
class References:
    """The images the FD protocol compares generated sets with."""

    train: Tensor               # all training images (N, C, H, W)
    val: Tensor                 # the val reference (n_ref, C, H, W): the first n_ref val images
    subsets: List[np.ndarray]   # disjoint index arrays into train, each with val's size and class counts
    n_ref: int


def effective_n_ref(n_ref: int, n_train: int, n_subsets: int) -> int:
    """The val reference size: at most n_train // n_subsets, so the train subsets can be disjoint."""
    if n_subsets < 2:
        raise ValueError(f"need n_subsets >= 2 (the train-vs-train baseline), got {n_subsets}")
    return max(2, min(int(n_ref), n_train // n_subsets))


def references(run: TrainedRun, n_ref: int = 100, n_subsets: int = 3, seed: int = 0) -> References:
    """The val reference (first n_ref val images; the splits are class-stratified, so it has the
    dataset's class prior) and ``n_subsets`` disjoint train subsets with its size and class counts."""
    n = effective_n_ref(n_ref, len(run.splits.train), n_subsets)
    val_images, val_labels = run.splits.val.images[:n], run.splits.val.labels[:n]
    train_labels = run.splits.train.labels.numpy()
    try:
        subsets = metrics.matched_subsets(train_labels, val_labels.numpy(), n_subsets, seed=seed)
    except ValueError:  # a class too rare in the training set: fall back to plain random subsets
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(train_labels))
        subsets = [np.sort(perm[k * n:(k + 1) * n]) for k in range(n_subsets)]
    return References(run.splits.train.images, val_images, subsets, n)


def classifier_features(run: TrainedRun) -> features.ClassifierFeatures:
    """The feature classifier trained (cached) on the run's feature split, with its class labels."""
    f = run.splits.feature
    return features.train_classifier(f.images, f.labels, int(f.labels.max()) + 1)


def feature_spaces(run: TrainedRun, extra: Optional[features.PretrainedFeatures] = None
                   ) -> Dict[str, features.FeatureExtractor]:
    """The two weight-free feature spaces of the book, pixels and the feature-split classifier,
    and a pretrained network from a local file when one is given (keyed by its kind)."""
    spaces = {"pixels": features.PixelFeatures(), "classifier": classifier_features(run)}
    if extra is not None:
        spaces[extra.short_name] = extra
    return spaces


# ----------------------------------------------------------------------------------------------
# Nearest-neighbour probe


def probe_similarities(query_features, train_ref_features, val_ref_features, device=None) -> Dict[str, float]:
    """Mean 1-NN cosine similarity of the queries to the train and to the val reference."""
    return {"train": float(metrics.nn_cosine_similarity(query_features, train_ref_features, device).mean()),
            "val": float(metrics.nn_cosine_similarity(query_features, val_ref_features, device).mean())}


# ----------------------------------------------------------------------------------------------
# One run across training time


@dataclass
class RunInference:
    """Inference measurements of every snapshot of one run (rows: snapshots)."""

    steps: np.ndarray                 # (T,)
    sigmas: np.ndarray                # (K,) sampler steps sigma_k (partial inference)
    n_ref: int
    gap: Dict[str, np.ndarray]        # space -> (T,) inference gap of the final samples
    fd_val: Dict[str, np.ndarray]     # space -> (T,)
    fd_train: Dict[str, np.ndarray]   # space -> (T,)
    fd_train_vs_val: Dict[str, float]     # baselines (do not depend on the snapshot)
    fd_train_vs_train: Dict[str, float]
    partial_gap: Dict[str, np.ndarray]    # space -> (T, K) gap of D(x_k; sigma_k)
    copier_gap: Dict[str, float]      # space -> inference gap of training images drawn with replacement
    null_gap: Dict[str, float]        # space -> inference gap of unused val images drawn with replacement
    ratios: np.ndarray                # (T, M) memorization ratio d1/d2 of the final samples (pixels)
    copy_fraction: np.ndarray         # (T,)
    probe_sigma: float                # the sampler sigma_k nearest to the requested probe sigma
    probe: Dict[str, np.ndarray]      # "train_recon_train", "train_recon_val", "val_recon_train", ...: (T,)


def snapshot_inference(config: TrainConfig, step: int, probe_sigma: float, n_samples: int = 300,
                       n_steps: int = 18, n_ref: int = 100, n_subsets: int = 3, seed: int = 0,
                       run: Optional[TrainedRun] = None,
                       extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """Every inference measurement of one snapshot, cached (results as tensors and floats);
    ``extra_features`` adds a pretrained network's feature space (and its identity to the key)."""
    key = {"run": run_key(config), "step": int(step), "n": int(n_samples), "n_steps": int(n_steps),
           "n_ref": int(n_ref), "n_subsets": int(n_subsets), "seed": int(seed),
           "probe_sigma": float(probe_sigma)}
    key = features.with_features_identity(key, extra_features)

    def compute():
        r = run if run is not None else train(config, progress=False)
        rec = sampler_record(config, step, n_samples, n_steps, seed, run=r)
        refs = references(r, n_ref, n_subsets, seed)
        spaces = feature_spaces(r, extra_features)
        net = r.snapshots[step]
        out = {"n_ref": refs.n_ref}
        k_probe = summaries.nearest_index(rec["sigmas"].numpy(), probe_sigma)
        s_probe = float(rec["sigmas"][k_probe])
        out["probe_sigma"] = s_probe
        train_ref = refs.train[refs.subsets[0]]
        labels_tr = r.splits.train.labels[refs.subsets[0]] if r.config.conditional else None
        labels_va = r.splits.val.labels[:refs.n_ref] if r.config.conditional else None
        dev = next(net.parameters()).device
        on = dev if dev.type != "cpu" else None  # FD and k-NN on the accelerator; NumPy on the CPU
        recon_tr = _recon(net, train_ref, s_probe, labels_tr, dev)
        recon_va = _recon(net, refs.val, s_probe, labels_va, dev)
        f_val_all = {name: features.as_numpy_features(ext, r.splits.val.images) for name, ext in spaces.items()}
        for name, ext in spaces.items():
            f_train = features.as_numpy_features(ext, refs.train)
            f_val = features.as_numpy_features(ext, refs.val)
            fd_ref = metrics.FDReference(f_train, f_val, refs.subsets, on)  # once for all sample sets
            g = fd_ref.gap(features.as_numpy_features(ext, rec["final"]))
            out[f"{name}/final"] = torch.tensor([g.fd_val, g.fd_train, g.gap, g.fd_train_vs_val,
                                                 g.fd_train_vs_train], dtype=torch.float64)
            # The copier and the null at n_samples, through the same reference (real copies, not
            # the reference-vs-reference baselines): :func:`calibration_gaps`.
            out[f"{name}/calibration"] = torch.tensor(calibration_gaps(fd_ref, f_train, f_val_all[name], refs.n_ref,
                                                                       n_samples, seed), dtype=torch.float64)
            partial = [fd_ref.gap(features.as_numpy_features(ext, d)).gap for d in rec["denoised"]]
            out[f"{name}/partial"] = torch.tensor(partial, dtype=torch.float64)
            f_tref = f_train[refs.subsets[0]]
            for qname, q in (("train_recon", recon_tr), ("val_recon", recon_va),
                             ("early_stop", rec["denoised"][k_probe])):
                sims = probe_similarities(features.as_numpy_features(ext, q), f_tref, f_val, on)
                out[f"{name}/probe/{qname}"] = torch.tensor([sims["train"], sims["val"]], dtype=torch.float64)
        out["ratios"] = torch.from_numpy(metrics.memorization_ratio(rec["final"], refs.train, on)).double()
        return out

    return cache.cached_result("snapshot-inference", key, compute, _SOURCES)


def _recon(net, images, sigma, labels, device):
    """Reconstructions D(y + sigma n; sigma) of images, with per-image noise (image j: seed + j)."""
    noise = diffusion.per_sample_noise([PROBE_NOISE_SEED + j for j in range(len(images))], images.shape[1:])
    x = (images + sigma * noise).to(device)
    s = torch.full((len(x),), float(sigma), device=device)
    with torch.no_grad():
        out = net(x, s) if labels is None else net(x, s, labels.to(device))
    return out.float().cpu()


def run_inference(config: TrainConfig, probe_sigma: float, n_samples: int = 300, n_steps: int = 18,
                  n_ref: int = 100, n_subsets: int = 3, seed: int = 0, steps: Optional[Sequence[int]] = None,
                  progress: bool = True,
                  extra_features: Optional[features.PretrainedFeatures] = None) -> RunInference:
    """:func:`snapshot_inference` for every snapshot (or ``steps``) of a run, gathered in arrays
    (with the feature space of ``extra_features`` when given)."""
    chosen = list(steps) if steps is not None else list(config.snapshot_steps or (config.max_steps,))
    if config.max_steps not in chosen and steps is None:
        chosen.append(config.max_steps)
    chosen = sorted(set(int(s) for s in chosen))
    rows = []
    for step in progress_bar(chosen, desc=f"inference n_train={config.n_train}", disable=not progress):
        rows.append(snapshot_inference(config, step, probe_sigma, n_samples, n_steps, n_ref, n_subsets, seed,
                                       extra_features=extra_features))
    sigmas = diffusion.edm_sigmas(n_steps).numpy()
    spaces = sorted({k.split("/")[0] for k in rows[0] if "/" in k})
    fin = {s: np.stack([r[f"{s}/final"].numpy() for r in rows]) for s in spaces}
    probe = {}
    for s in spaces:
        for q in ("train_recon", "val_recon", "early_stop"):
            arr = np.stack([r[f"{s}/probe/{q}"].numpy() for r in rows])
            probe[f"{s}/{q}/train"], probe[f"{s}/{q}/val"] = arr[:, 0], arr[:, 1]
    ratios = np.stack([r["ratios"].numpy() for r in rows])
    return RunInference(
        steps=np.array(chosen), sigmas=sigmas, n_ref=int(rows[0]["n_ref"]),
        gap={s: fin[s][:, 2] for s in spaces}, fd_val={s: fin[s][:, 0] for s in spaces},
        fd_train={s: fin[s][:, 1] for s in spaces},
        fd_train_vs_val={s: float(fin[s][0, 3]) for s in spaces},
        fd_train_vs_train={s: float(fin[s][0, 4]) for s in spaces},
        partial_gap={s: np.stack([r[f"{s}/partial"].numpy() for r in rows]) for s in spaces},
        copier_gap={s: float(rows[0][f"{s}/calibration"][1]) for s in spaces},
        null_gap={s: float(rows[0][f"{s}/calibration"][0]) for s in spaces},
        ratios=ratios, copy_fraction=(ratios < metrics.COPY_THRESHOLD).mean(1),
        probe_sigma=float(rows[0]["probe_sigma"]), probe=probe)


def classifier_val_accuracy(run: TrainedRun) -> float:
    """How well the feature classifier (trained on the feature split) classifies the val split."""
    return classifier_features(run).accuracy(run.splits.val.images, run.splits.val.labels)


def calibration_gaps(fd_ref: metrics.FDReference, train_features: np.ndarray, val_features: np.ndarray,
                     n_ref: int, n_gen: int, seed: int = 0) -> List[float]:
    """[null gap, copier gap]: the inference gap, through ``fd_ref``, of ``n_gen`` unused val
    images (val images after the first ``n_ref``, which form the val reference) and of ``n_gen``
    training images, each drawn with replacement (seeded). The copier is the gap of a sampler that
    returns training images, measured like any sample set of the same size."""
    rng = np.random.default_rng([int(seed), 4243])
    copier = rng.choice(len(train_features), int(n_gen), replace=True)
    unused = np.arange(n_ref, len(val_features))
    null = rng.choice(unused, int(n_gen), replace=True) if len(unused) else None
    null_gap = fd_ref.gap(val_features[null]).gap if null is not None else float("nan")
    return [null_gap, fd_ref.gap(train_features[copier]).gap]


def copy_gap(result: RunInference, space: str) -> float:
    """The inference gap of a sampler that returns training images (drawn with replacement, as
    many as the generated set), through the same references as the samples: the copier of
    :func:`calibration_gaps` (the chapter's calibrated protocol is :mod:`calibration`)."""
    return result.copier_gap[space]


# ----------------------------------------------------------------------------------------------
# The map: where the claim holds


def map_regimes(train_peak_gap, inference_gap, copy_fraction, ratio_criterion: float,
                copy_criterion: float) -> List[str]:
    """Label each snapshot of one run: "copies" when at least ``copy_criterion`` of the samples
    are copies; else "generalizes" when the inference gap is below ``ratio_criterion`` times the
    training gap at its peak (the paper's claim); else "inherits the gap"."""
    labels = []
    for peak, gap, copies in zip(train_peak_gap, inference_gap, copy_fraction):
        if copies >= copy_criterion:
            labels.append("copies")
        elif gap < ratio_criterion * peak:
            labels.append("generalizes")
        else:
            labels.append("inherits the gap")
    return labels


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
