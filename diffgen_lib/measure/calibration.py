"""Calibrated inference statistics: every statistic of generated samples next to what it is for
fresh data (the *null*) and for copies of the training set (the *copier*).

At a small scale (hundreds of samples, 32-784 feature dimensions) an inference statistic means
little on its own: a sampler that returns training images can score a "small" FD gap, and one that
only learned the training set's moments can score a "large" one. So each statistic of the model's
samples is computed by the same code, at the same number of samples ``n_gen`` and against the
same references, for

- the **null**: held-out images (the val split and images no split of the run uses,
  :func:`heldout_pool`) that are not in the val reference, ``n_gen`` drawn with replacement
  (fresh data: what a perfectly generalizing sampler produces);
- the **copier**: training images drawn with replacement (what a fully memorizing sampler
  produces, :func:`copier_images`);
- a **Gaussian** fitted to the training pixels (:class:`GaussianFit`): it has learned the
  training set's first two moments and copies nothing. Where it scores like the copier, the
  statistic measures moments, not memorization.

The model's **memorization index** of a statistic g is ``m = (g_model - g_null) / (g_copier -
g_null)``: 0 is indistinguishable from fresh data, 1 as close to the training set as copies
(:func:`memorization_index`).

References (:func:`draw_references`). Each *reference draw* takes a train reference and a val
reference of equal size ``n`` (:func:`reference_size`): the whole training set when it fits
(then a copier matches the train reference fully and nothing is diluted), else a random subset of
it (a copier's signal is then diluted by n / N); the val reference is drawn from the held-out
images with the train reference's class counts, and the null from the held-out images left over. With equal
sizes and the same distribution, the null's statistics are 0 in expectation: no floor by
construction.

Statistics per feature space (:meth:`Calibration.statistics`):

- ``nn_gap``: nearest-neighbour gap (d_val - d_train) / d_val, with d the mean Euclidean distance
  of a sample to its nearest neighbour in the reference (no covariance, so no small-sample bias
  of a high-dimensional covariance); 0 for fresh data, 1 for exact copies of a full train reference;
- ``fd_gap``: the relative FD gap (FD_val - FD_train) / FD_train of the paper's protocol
  (with the equal-size references above), and ``fd_diff`` = FD_val - FD_train;
- ``nn_cos``: the 1-NN probe, mean 1-NN cosine similarity to the train reference minus that to
  the val reference;

and ``copy_fraction``: the fraction of samples whose distance ratio to the nearest and second
nearest training image (pixels) is below 1/3 (Gu et al., Yoon et al.).

Uncertainty: sample seeds times reference draws; :func:`summarize` gives the mean and the 90%
percentile-bootstrap interval of :mod:`diffgen_lib.measure.verdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .. import cache, diffusion, features
from ..runs import TrainedRun
from . import inference, metrics
from .references import (MIN_NULL_POOL, SEED_STRIDE, GaussianFit, draw_references, heldout_pool,  # noqa: F401
                         reference_size)
from .verdicts import bootstrap_interval

Tensor = torch.Tensor
_SOURCES = cache.sources("measure/calibration.py", "measure/references.py", "measure/inference.py", "diffusion.py",
                         "measure/metrics.py", "features.py", "measure/intervals.py")
SET_NAMES = ("model", "null", "copier", "gaussian")
STATISTICS = ("nn_gap", "nn_cos", "nn_val", "fd_gap", "fd_diff", "fd_val")
NN_STATISTICS = STATISTICS[:3]  # without covariances: every set, every space
MIXTURE_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # copies in the copy mixtures (:meth:`Calibration.mixture_statistics`)
RECON_SEED = 31_337          # per-image noise of the calibration sets' reconstructions (train j: RECON_SEED + j)
RECON_VAL_OFFSET = 10_000_000  # val image j: RECON_SEED + RECON_VAL_OFFSET + j


# ----------------------------------------------------------------------------------------------
# Statistics of a sample set against the references of every draw


class Nearest:
    """Each sample's nearest-neighbour values against every draw's references in one feature space:
    the distance to the nearest image of the train and of the val reference, and the largest cosine
    similarity to each, arrays (n_draws, M) (:func:`metrics.subset_nearest`)."""

    def __init__(self, d_train, d_val, c_train, c_val):
        self.d_train, self.d_val, self.c_train, self.c_val = d_train, d_val, c_train, c_val

    def take(self, rows) -> "Nearest":
        """The same values for a subset of the samples (rows, in order)."""
        rows = np.asarray(rows)
        return Nearest(*(v[:, rows] for v in (self.d_train, self.d_val, self.c_train, self.c_val)))

    @staticmethod
    def stack(parts: Sequence["Nearest"]) -> "Nearest":
        return Nearest(*(np.concatenate([getattr(p, k) for p in parts], axis=1)
                         for k in ("d_train", "d_val", "c_train", "c_val")))


class Calibration:
    """References of ``n_draws`` draws, their FD statistics and the features of every train and
    val image in each feature space, computed once for any number of sample sets.

    ``spaces``: name -> feature extractor (pixels, the feature classifier, ...). The nearest-
    neighbour statistics are computed in every space, the FD statistics in ``fd_spaces`` (default:
    every space; a covariance of a few thousand dimensions costs seconds per set). The null, the
    copier and the copy mixtures are sets of training and held-out images: their nearest-neighbour
    values are computed once per image (:meth:`pool`) and gathered for each set.
    """

    def __init__(self, train_images: Tensor, train_labels, val_images: Tensor, val_labels,
                 spaces: Dict[str, Callable], n_gen: int, n_ref: int, n_draws: int = 5, seed: int = 0,
                 min_null: int = MIN_NULL_POOL, fd_spaces: Optional[Sequence[str]] = None):
        self.train_images, self.val_images = train_images, val_images
        self.spaces, self.n_gen = dict(spaces), int(n_gen)
        self.fd_spaces = tuple(self.spaces if fd_spaces is None else fd_spaces)
        self.n_ref = reference_size(len(train_images), len(val_images), n_ref, min_null)
        self.draws = [draw_references(np.asarray(train_labels), np.asarray(val_labels), n_gen, n_ref,
                                      seed * 1000 + r, min_null) for r in range(n_draws)]
        self.train_feats = {s: features.as_numpy_features(f, train_images) for s, f in self.spaces.items()}
        self.val_feats = {s: features.as_numpy_features(f, val_images) for s, f in self.spaces.items()}
        self.fd = [{s: metrics.FDReference(self.train_feats[s][d.train_ref], self.val_feats[s][d.val_ref],
                                           [np.arange(self.n_ref)]) for s in self.fd_spaces} for d in self.draws]
        self.val_ratios = metrics.memorization_ratio(val_images, train_images)
        full = len(train_images)
        self._train_cols = [None if len(d.train_ref) == full else d.train_ref for d in self.draws]
        self._val_cols = [d.val_ref for d in self.draws]
        self._pools: Dict[tuple, tuple] = {}

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    @property
    def dilution(self) -> float:
        """Share of the training set in the train reference (1: a copier matches it fully)."""
        return self.n_ref / len(self.train_images)

    def features(self, images: Tensor) -> Dict[str, np.ndarray]:
        return {s: features.as_numpy_features(f, images) for s, f in self.spaces.items()}

    def nearest(self, feats: np.ndarray, space: str) -> Nearest:
        """The nearest-neighbour values of a feature set against every draw's references."""
        tr, va = self.train_feats[space], self.val_feats[space]
        return Nearest(metrics.subset_nearest(feats, tr, self._train_cols),
                       metrics.subset_nearest(feats, va, self._val_cols),
                       metrics.subset_nearest(feats, tr, self._train_cols, metric="cosine"),
                       metrics.subset_nearest(feats, va, self._val_cols, metric="cosine"))

    def pool(self, which: str, space: str) -> tuple:
        """(row positions, :class:`Nearest`) of the training images the copiers use ("train") or
        the held-out images the nulls use ("val"), computed once."""
        key = (which, space)
        if key not in self._pools:
            rows = np.unique(np.concatenate([d.copier if which == "train" else d.null for d in self.draws]))
            feats = (self.train_feats if which == "train" else self.val_feats)[space][rows]
            self._pools[key] = (rows, self.nearest(feats, space))
        return self._pools[key]

    def _pooled(self, which: str, space: str, index) -> Nearest:
        rows, near = self.pool(which, space)
        return near.take(np.searchsorted(rows, np.asarray(index)))

    def statistics(self, feats: Dict[str, np.ndarray], ratios: Optional[np.ndarray] = None,
                   draws: Optional[Sequence[int]] = None, near: Optional[Dict[str, Nearest]] = None,
                   with_fd: bool = True) -> Dict[str, np.ndarray]:
        """Every statistic of one sample set (its features per space; ``ratios``: its memorization
        ratios d1/d2 for the copy fraction; ``near``: its nearest-neighbour values when already
        known) against the references of each draw in ``draws`` (default: all):
        ``{"<space>/<stat>": (len(draws),), "copy_fraction": ...}``; the FD statistics only in
        ``fd_spaces`` and with ``with_fd``."""
        draws = list(range(self.n_draws)) if draws is None else list(draws)
        out: Dict[str, np.ndarray] = {}
        for s, f in feats.items():
            nr = near[s] if near is not None else self.nearest(f, s)
            fd = with_fd and s in self.fd_spaces
            g_stats = self.fd[draws[0]][s].gen_stats(f) if fd and draws else None
            rows = {k: [] for k in (STATISTICS if fd else NN_STATISTICS)}
            for r in draws:
                rows["nn_gap"].append(nn_gap(nr.d_train[r], nr.d_val[r]))
                rows["nn_cos"].append(nn_cos(nr.c_train[r], nr.c_val[r]))
                rows["nn_val"].append(float(torch.as_tensor(nr.d_val[r]).double().mean()))
                if fd:
                    g = self.fd[r][s].gap_from_stats(*g_stats)
                    rows["fd_gap"].append(g.gap)
                    rows["fd_diff"].append(g.fd_val - g.fd_train)
                    rows["fd_val"].append(g.fd_val)
            for k, v in rows.items():
                out[f"{s}/{k}"] = np.asarray(v, dtype=np.float64)
        if ratios is not None:
            out["copy_fraction"] = np.full(len(draws), metrics.copy_fraction(ratios))
        return out

    def model_statistics(self, images: Tensor) -> Dict[str, np.ndarray]:
        """:meth:`statistics` of generated images against every draw (copy fraction included)."""
        return self.statistics(self.features(images), metrics.memorization_ratio(images, self.train_images))

    def calibration_statistics(self) -> Dict[str, Dict[str, np.ndarray]]:
        """The null's and the copier's statistics, each draw's sets against that draw's references:
        ``{"null": {stat: (n_draws,)}, "copier": {...}}``."""
        out = {"null": [], "copier": []}
        for r, d in enumerate(self.draws):
            out["null"].append(self.statistics({s: v[d.null] for s, v in self.val_feats.items()},
                                               self.val_ratios[d.null], [r],
                                               near={s: self._pooled("val", s, d.null) for s in self.spaces}))
            out["copier"].append(self.statistics({s: v[d.copier] for s, v in self.train_feats.items()},
                                                 np.zeros(len(d.copier)), [r],
                                                 near={s: self._pooled("train", s, d.copier) for s in self.spaces}))
        return {name: _stack_draws(rows) for name, rows in out.items()}

    def mixture_statistics(self, fractions: Sequence[float] = MIXTURE_FRACTIONS) -> Dict[float, Dict[str, np.ndarray]]:
        """The *copy mixtures*: in each draw, a fraction p of the ``n_gen`` images are exact training
        copies (the draw's copier) and the rest fresh held-out images (its null), through
        :meth:`statistics` (nearest-neighbour statistics and the copy fraction) against that draw's
        references: ``{p: {stat: (n_draws,)}}``. p = 0 is the null, p = 1 the copier; for the
        nearest-neighbour gap the index of a p-mixture is about p (a copy's distance to the train
        reference is 0)."""
        out = {}
        for p in fractions:
            if not 0 <= p <= 1:
                raise ValueError(f"a copy fraction must be in [0, 1], got {p}")
            rows = []
            for r, d in enumerate(self.draws):
                k = int(round(p * self.n_gen))
                near = {s: Nearest.stack([self._pooled("train", s, d.copier[:k]), self._pooled("val", s, d.null[k:])])
                        for s in self.spaces}
                ratios = np.concatenate([np.zeros(k), self.val_ratios[d.null[k:]]])
                rows.append(self.statistics({s: None for s in self.spaces}, ratios, [r], near=near, with_fd=False))
            out[float(p)] = _stack_draws(rows)
        return out

    def reconstruction_statistics(self, denoise: Callable, sigma: float, device="cpu",
                                  batch_size: int = 512) -> Dict[str, Dict[str, np.ndarray]]:
        """The calibration sets for partial inference at ``sigma``: the denoiser's outputs
        D(y + sigma n; sigma) for the null's and the copier's images y (per-image noise, the same
        at every sigma), through :meth:`statistics` (the nearest-neighbour statistics: partial
        inference is judged on them) against each draw's references."""
        tr_idx = np.unique(np.concatenate([d.copier for d in self.draws]))
        va_idx = np.unique(np.concatenate([d.null for d in self.draws]))
        rec_tr = reconstruct(denoise, self.train_images[torch.from_numpy(tr_idx)], sigma,
                             [RECON_SEED + int(j) for j in tr_idx], device, batch_size)
        rec_va = reconstruct(denoise, self.val_images[torch.from_numpy(va_idx)], sigma,
                             [RECON_SEED + RECON_VAL_OFFSET + int(j) for j in va_idx], device, batch_size)
        f_tr, f_va = self.features(rec_tr), self.features(rec_va)
        pos_tr, pos_va = np.searchsorted(tr_idx, np.arange(len(self.train_images))), \
            np.searchsorted(va_idx, np.arange(len(self.val_images)))
        out = {"null": [], "copier": []}
        for r, d in enumerate(self.draws):
            out["null"].append(self.statistics({s: v[pos_va[d.null]] for s, v in f_va.items()}, None, [r], with_fd=False))
            out["copier"].append(self.statistics({s: v[pos_tr[d.copier]] for s, v in f_tr.items()}, None, [r],
                                                 with_fd=False))
        return {name: _stack_draws(rows) for name, rows in out.items()}


EXCHANGE_DRAWS = 20        # draws of the exchanged null (:func:`exchange_null`)


def exchange_null(train_labels, held_images: Tensor, held_labels, spaces: Dict[str, Callable], n_gen: int,
                  n_ref: int, n_draws: int = EXCHANGE_DRAWS, seed: int = 0,
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
        rng = np.random.default_rng([int(seed), 7919, 2, e])
        wanted = train_labels if size == len(train_labels) else train_labels[rng.choice(len(train_labels), size, replace=False)]
        stand_in = metrics.matched_subsets(held_labels, wanted, 1, seed=int(rng.integers(2 ** 31)),
                                           fallback=True)[0]
        rest = np.setdiff1d(np.arange(n_held), stand_in)
        idx_s, idx_r = torch.from_numpy(stand_in), torch.from_numpy(rest)
        cal = Calibration(held_images[idx_s], held_labels[stand_in], held_images[idx_r], held_labels[rest],
                          spaces, n_gen, n_ref, 1, seed=int(rng.integers(2 ** 31)), min_null=min_null)
        n = cal.n_ref
        rows.append(cal.calibration_statistics()["null"])
    out = _stack_draws(rows)
    out.pop("copy_fraction", None)
    out["n_ref"] = np.asarray(n)
    return out


@torch.no_grad()
def reconstruct(denoise: Callable, images: Tensor, sigma: float, noise_seeds: Sequence[int], device="cpu",
                batch_size: int = 512) -> Tensor:
    """D(y + sigma n; sigma) of images y, n from per-image seeded generators (CPU)."""
    noise = diffusion.per_sample_noise(list(noise_seeds), images.shape[1:])
    outs = []
    for start in range(0, len(images), batch_size):
        x = (images[start:start + batch_size] + sigma * noise[start:start + batch_size]).to(device)
        s = torch.full((len(x),), float(sigma), device=device)
        outs.append(denoise(x, s).float().cpu())
    return torch.cat(outs)


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


def _stack_draws(rows: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


# ----------------------------------------------------------------------------------------------
# Index and summaries


def memorization_index(model, null, copier):
    """m = (model - null) / (copier - null), broadcast over draws: 0 like fresh data, 1 like copies."""
    model, null, copier = (np.asarray(v, dtype=np.float64) for v in (model, null, copier))
    return (model - null) / (copier - null)


@dataclass(frozen=True)
class Summary:
    """Mean and 90% percentile-bootstrap interval over draws."""

    mean: float
    lo: float
    hi: float
    n: int

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def text(self, fmt=lambda v: f"{v:.3g}") -> str:
        return f"{fmt(self.mean)} [{fmt(self.lo)}, {fmt(self.hi)}]"


def summarize(draws, level: float = 0.9) -> Summary:
    """:func:`verdicts.bootstrap_interval` of the draws (any shape, flattened)."""
    x = np.asarray(draws, dtype=np.float64).ravel()
    mean, lo, hi = bootstrap_interval(x, level=level)
    return Summary(mean, lo, hi, x.size)


def index_draws(model, null, copier) -> np.ndarray:
    """Per-draw memorization indices: ``model`` (..., S, R) over sample seeds and reference draws,
    ``null`` and ``copier`` (..., R) once per reference draw; returns (..., S, R)."""
    null, copier = np.asarray(null)[..., None, :], np.asarray(copier)[..., None, :]
    return memorization_index(model, null, copier)


# ----------------------------------------------------------------------------------------------
# The paper's protocol with fixed references (no null, no copier)


class InferenceProtocol:
    """FD(gen, val) against FD(gen, train_k), the paper's protocol as it is (uncalibrated), with
    fixed references: the first ``n_ref`` val images and ``n_subsets`` train subsets of the same
    size and class counts (the dataset's class labels, :func:`features.class_splits`; plain
    random subsets when a class is too rare in the training set, the fallback of
    :func:`metrics.matched_subsets`), in the spaces of :func:`features.feature_spaces`. The same
    FD code (:class:`metrics.FDReference`) as :class:`Calibration`, which adds the null and the
    copier and redraws the references."""

    def __init__(self, config, n_ref: int, n_subsets: int, seed: int = 0, device="cpu",
                 extra_features: Optional[features.PretrainedFeatures] = None):
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


# ----------------------------------------------------------------------------------------------
# One snapshot of an unconditional run: final samples and partial inference (cached)


_CALIBRATIONS: Dict[str, "Calibration"] = {}  # the Calibration of a data split, kept for this process


def run_calibration_object(run: TrainedRun, n_gen: int, n_ref: int, n_draws: int, ref_seed: int = 0,
                           extra_features: Optional[features.PretrainedFeatures] = None) -> "Calibration":
    """The :class:`Calibration` of a run's data split (training images, held-out pool, the feature
    classifier of its feature split): every run of one split, and every snapshot of a run, shares
    it, so it is built once per process."""
    key = cache.stable_hash(features.with_features_identity(
        {"split": inference.split_identity(run), "n_gen": int(n_gen), "n_ref": int(n_ref), "n_draws": int(n_draws),
         "ref_seed": int(ref_seed)}, extra_features))
    if key not in _CALIBRATIONS:
        held_images, held_labels = heldout_pool(run)
        _CALIBRATIONS.clear()  # one split at a time is all a chapter's loop needs
        _CALIBRATIONS[key] = Calibration(run.splits.train.images, run.splits.train.labels, held_images, held_labels,
                                         features.feature_spaces(run.config, extra_features), n_gen, n_ref, n_draws,
                                         ref_seed)
    return _CALIBRATIONS[key]


def reference_statistics(run: TrainedRun, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300, n_ref: int = 300,
                         ref_seed: int = 0, extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """The statistics of everything a run's samples are compared with, cached by its data split
    (no network is involved): the null and the copier of each reference draw, the Gaussian fitted
    to the training pixels (one sample set per sample seed) and the copy mixtures
    (:meth:`Calibration.mixture_statistics`). Tensors ``<set>/<stat>``: null and copier (R,),
    gaussian (S, R), ``mixture/<p>/<stat>`` (R,); ``ratios/<set>``; ``n_ref``, ``dilution``,
    ``n_heldout``."""
    seeds = [int(s) for s in seeds]
    key = features.with_features_identity(
        {"split": inference.split_identity(run), "seeds": seeds, "n_draws": int(n_draws), "n_gen": int(n_gen),
         "n_ref": int(n_ref), "ref_seed": int(ref_seed)}, extra_features)

    def compute():
        cal = run_calibration_object(run, n_gen, n_ref, n_draws, ref_seed, extra_features)
        gauss = GaussianFit(run.splits.train.images)
        out: Dict[str, Tensor] = {"n_ref": torch.tensor(cal.n_ref), "dilution": torch.tensor(cal.dilution),
                                  "n_heldout": torch.tensor(len(cal.val_images))}
        gaussian, ratios_g = [], []
        for s in seeds:
            g_img = gauss.sample(n_gen, s)
            gaussian.append(cal.model_statistics(g_img))
            ratios_g.append(metrics.memorization_ratio(g_img, cal.train_images))
        for name, stats in cal.calibration_statistics().items():
            for stat, v in stats.items():
                out[f"{name}/{stat}"] = torch.from_numpy(v)
        for stat in gaussian[0]:
            out[f"gaussian/{stat}"] = torch.from_numpy(np.stack([g[stat] for g in gaussian]))
        for p, stats in cal.mixture_statistics().items():
            for stat, v in stats.items():
                out[f"mixture/{p:g}/{stat}"] = torch.from_numpy(v)
        out["ratios/gaussian"] = torch.from_numpy(np.stack(ratios_g))
        out["ratios/null"] = torch.from_numpy(cal.val_ratios[cal.draws[0].null])
        out["ratios/copier"] = torch.zeros(n_gen, dtype=torch.float64)
        return out

    return cache.cached_result("reference-statistics", key, compute, _SOURCES)


def partial_steps_of(partial, n_steps: int) -> List[int]:
    """The sampler steps with partial-inference statistics: all of them (``partial`` True), none
    (False) or the given indices."""
    if partial is True:
        return list(range(n_steps))
    if not partial:
        return []
    steps = sorted({int(k) for k in partial})
    if steps[0] < 0 or steps[-1] >= n_steps:
        raise ValueError(f"partial-inference steps must be in [0, {n_steps - 1}], got {steps}")
    return steps


def _record_statistics(cal: "Calibration", rec: dict, steps: Sequence[int]):
    """(statistics of a sampler record's final samples, its memorization ratios, the statistics of
    its early-stopped outputs at the given steps, None at the others)."""
    final = cal.model_statistics(rec["final"])
    ratios = metrics.memorization_ratio(rec["final"], cal.train_images)
    chosen = set(steps)
    partial = [cal.statistics(cal.features(d), with_fd=False) if k in chosen else None
               for k, d in enumerate(rec["denoised"])]
    return final, ratios, partial


def _stack_partial(out: dict, prefix: str, per_seed: list) -> None:
    """``<prefix>/<stat>`` (S, R, K) from per seed, per step statistics (NaN at the steps without)."""
    first = next(st for st in per_seed[0] if st is not None)
    for stat, v in first.items():
        blank = np.full_like(v, np.nan)
        out[f"{prefix}/{stat}"] = torch.from_numpy(np.stack(
            [np.stack([blank if st is None else st[stat] for st in steps], axis=-1) for steps in per_seed]))


def snapshot_calibration(run: TrainedRun, step: int, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300,
                         n_steps: int = 18, n_ref: int = 300, partial=False, ref_seed: int = 0,
                         extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """Calibrated statistics of one snapshot of a run, cached.

    The model's samples are the sampler records of :func:`inference.sampler_record` (one per
    sample seed). Returns tensors: ``final/<stat>/model`` (S, R) and ``ratios/model`` (S, M); with
    ``partial`` (True: every sampler step; or the indices of some steps, NaN at the others),
    ``sigmas`` and ``partial/<set>/<stat>`` for every sampler step k: model (S, R, K),
    null and copier (R, K), where the null and the copier at step k are the snapshot's
    reconstructions of their images at sigma_k (:meth:`Calibration.reconstruction_statistics`).
    The references (null, copier, Gaussian, mixtures) are :func:`reference_statistics`.
    """
    seeds = [int(s) for s in seeds]
    key = {"run": run.key, "step": int(step), "seeds": seeds, "n_draws": int(n_draws),
           "n_gen": int(n_gen), "n_steps": int(n_steps), "n_ref": int(n_ref),
           "partial": partial if isinstance(partial, bool) else partial_steps_of(partial, n_steps),
           "ref_seed": int(ref_seed)}
    key = features.with_features_identity(key, extra_features)

    def compute():
        net = run.snapshots[step]
        dev = next(net.parameters()).device
        cal = run_calibration_object(run, n_gen, n_ref, n_draws, ref_seed, extra_features)
        judged = partial_steps_of(partial, n_steps)
        rows = [_record_statistics(cal, inference.sampler_record(run, step, n_gen, n_steps, s), judged)
                for s in seeds]
        out: Dict[str, Tensor] = {}
        for stat in rows[0][0]:
            out[f"final/{stat}/model"] = torch.from_numpy(np.stack([r[0][stat] for r in rows]))
        out["ratios/model"] = torch.from_numpy(np.stack([r[1] for r in rows]))
        if judged:
            sigmas = diffusion.edm_sigmas(n_steps).numpy()
            out["sigmas"] = torch.from_numpy(np.asarray(sigmas, dtype=np.float64))
            _stack_partial(out, "partial/model", [r[2] for r in rows])
            recon = {k: cal.reconstruction_statistics(lambda x, s_: net(x, s_), float(sigmas[k]), dev) for k in judged}
            first = recon[judged[0]]
            for name in ("null", "copier"):
                for stat, v in first[name].items():
                    blank = np.full_like(v, np.nan)
                    out[f"partial/{name}/{stat}"] = torch.from_numpy(np.stack(
                        [recon[k][name][stat] if k in recon else blank for k in range(len(sigmas))], axis=-1))
        return out

    return cache.cached_result("snapshot-calibration", key, compute, _SOURCES)


def optimal_calibration(run: TrainedRun, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300, n_steps: int = 18,
                        n_ref: int = 300, ref_seed: int = 0,
                        extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """The positive control of the inference claims: the statistics of the optimal (empirical)
    denoiser's sampler (:func:`inference.optimal_sampler_record`) from the run's initial noise,
    against the run's references, cached by the data split. Tensors ``final/<stat>`` (S, R),
    ``ratios`` (S, M), ``partial/<stat>`` (S, R, K) of its early-stopped outputs D*(x_k; sigma_k)
    (to be put on the network's partial-inference scale, whose null and copier are the
    network's reconstructions at sigma_k) and ``decided`` (S, K), the share of its samples whose
    nearest training image is already decided at step k (:func:`inference.decided_share`)."""
    seeds = [int(s) for s in seeds]
    key = features.with_features_identity(
        {"split": inference.split_identity(run), "seeds": seeds, "n_draws": int(n_draws), "n_gen": int(n_gen),
         "n_steps": int(n_steps), "n_ref": int(n_ref), "ref_seed": int(ref_seed)}, extra_features)

    def compute():
        cal = run_calibration_object(run, n_gen, n_ref, n_draws, ref_seed, extra_features)
        recs = [inference.optimal_sampler_record(run, n_gen, n_steps, s) for s in seeds]
        rows = [_record_statistics(cal, rec, range(n_steps)) for rec in recs]
        out: Dict[str, Tensor] = {}
        for stat in rows[0][0]:
            out[f"final/{stat}"] = torch.from_numpy(np.stack([r[0][stat] for r in rows]))
        out["ratios"] = torch.from_numpy(np.stack([r[1] for r in rows]))
        _stack_partial(out, "partial", [r[2] for r in rows])
        out["decided"] = torch.from_numpy(np.stack([inference.decided_share(rec, cal.train_images) for rec in recs]))
        return out

    return cache.cached_result("optimal-calibration", key, compute,
                               _SOURCES + cache.sources("analytic.py"))


@dataclass
class RunCalibration:
    """Calibrated statistics of the snapshots of one run (T snapshots, S seeds, R draws, M samples,
    K sampler steps)."""

    steps: np.ndarray                      # (T,)
    n_ref: int
    n_heldout: int                         # held-out images (val split and unused ones) of the val reference and the null
    dilution: float
    final: Dict[str, Dict[str, np.ndarray]]    # stat -> set -> model/gaussian (T, S, R), null/copier (T, R)
    ratios: Dict[str, np.ndarray]          # set -> model/gaussian (T, S, M), null/copier (T, M)
    partial: Dict[str, Dict[str, np.ndarray]]  # stat -> set -> model (S, R, K), null/copier (R, K): last partial snapshot
    sigmas: Optional[np.ndarray]           # (K,) sampler sigmas of the partial statistics
    exchange: Dict[str, np.ndarray] = field(default_factory=dict)  # stat -> (E,): the exchanged null (:func:`exchange_null`)
    mixtures: Dict[float, Dict[str, np.ndarray]] = field(default_factory=dict)  # p -> stat -> (R,): copy mixtures

    @property
    def stats(self) -> List[str]:
        return list(self.final)

    def index(self, stat: str, t: int = -1, which: str = "model") -> np.ndarray:
        """Per-draw memorization index (S, R) of ``which`` (model or gaussian) at snapshot t."""
        f = self.final[stat]
        return index_draws(f[which][t], f["null"][t], f["copier"][t])

    def partial_index(self, stat: str, model: Optional[np.ndarray] = None) -> np.ndarray:
        """Per-draw memorization index (S, R, K) of partial inference at every sampler step; with
        ``model`` (S, R, K) another sampler's early-stopped statistics on this run's scale (the
        optimal denoiser's, a positive control)."""
        p = self.partial[stat]
        model = p["model"] if model is None else np.asarray(model)
        return (model - p["null"][None]) / (p["copier"] - p["null"])[None]

    def mixture_index(self, stat: str) -> Dict[float, np.ndarray]:
        """Per-draw index (R,) of each copy mixture (p -> index): about p for the NN gap."""
        f = self.final[stat]
        return {p: memorization_index(m[stat], f["null"][-1], f["copier"][-1]) for p, m in self.mixtures.items()}

    def copy_equivalent(self, index_value: float, stat: str = "pixels/nn_gap") -> float:
        """The copy fraction p whose mixture has this index (mean over draws), interpolated
        linearly between the measured mixtures; clamped to [0, 1]."""
        mix = self.mixture_index(stat)
        ps = np.array(sorted(mix))
        values = np.array([mix[p].mean() for p in ps])
        order = np.argsort(values)
        return float(np.clip(np.interp(index_value, values[order], ps[order]), 0.0, 1.0))

    def quality_index(self, t: int = -1, which: str = "model", space: str = "classifier") -> np.ndarray:
        """How unlike the data the samples are (S, R): their mean distance to the nearest image of the
        val reference (``space`` features) on a scale where fresh held-out images (the null) are 0 and
        the Gaussian fitted to the training pixels is 1 (its mean over sample seeds, per draw).
        Copies of training images are as far from the val reference as fresh images: about 0."""
        f = self.final[f"{space}/nn_val"]
        gauss = f["gaussian"][t].mean(0)
        return index_draws(f[which][t], f["null"][t], gauss)


def _calibration_from(rows: List[dict], refs: dict, chosen: List[int], exchange: dict) -> RunCalibration:
    """A :class:`RunCalibration` from cached snapshot rows and the run's reference statistics."""
    T = len(chosen)
    stats = [k.split("/", 1)[1].rsplit("/", 1)[0] for k in rows[0] if k.startswith("final/")]
    final = {}
    for st in stats:
        final[st] = {"model": np.stack([r[f"final/{st}/model"].numpy() for r in rows]),
                     "gaussian": np.repeat(refs[f"gaussian/{st}"].numpy()[None], T, axis=0),
                     "null": np.repeat(refs[f"null/{st}"].numpy()[None], T, axis=0),
                     "copier": np.repeat(refs[f"copier/{st}"].numpy()[None], T, axis=0)}
    ratios = {"model": np.stack([r["ratios/model"].numpy() for r in rows])}
    ratios.update({name: np.repeat(refs[f"ratios/{name}"].numpy()[None], T, axis=0)
                   for name in ("gaussian", "null", "copier")})
    with_partial = [r for r in rows if "sigmas" in r]
    partial, sigmas = {}, None
    if with_partial:
        p = with_partial[-1]
        sigmas = p["sigmas"].numpy()
        partial = {st: {name: p[f"partial/{name}/{st}"].numpy() for name in ("model", "null", "copier")}
                   for st in [k.split("/", 2)[2] for k in p if k.startswith("partial/model/")]}
    fractions = sorted({float(k.split("/")[1]) for k in refs if k.startswith("mixture/")})
    mixtures = {f: {k[len(f"mixture/{f:g}/"):]: v.numpy() for k, v in refs.items() if k.startswith(f"mixture/{f:g}/")}
                for f in fractions}
    return RunCalibration(np.array(chosen), int(refs["n_ref"]), int(refs["n_heldout"]), float(refs["dilution"]),
                          final, ratios, partial, sigmas, exchange, mixtures)


def run_calibration(run: TrainedRun, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300, n_steps: int = 18,
                    n_ref: int = 300, partial_steps: Sequence[int] = (), steps: Optional[Sequence[int]] = None,
                    partial_k=True,
                    ref_seed: int = 0, progress: bool = True,
                    extra_features: Optional[features.PretrainedFeatures] = None) -> RunCalibration:
    """:func:`snapshot_calibration` for every snapshot (or ``steps``) of a run, with partial
    inference at the snapshots in ``partial_steps`` (the last of them is kept; at the sampler steps
    ``partial_k``: True for all), beside the run's
    :func:`reference_statistics` and its exchanged null."""
    from ..progress import progress_bar

    config = run.config
    chosen = sorted(set(int(s) for s in (steps if steps is not None else
                                          list(config.snapshot_steps or ()) + [config.max_steps])))
    refs = reference_statistics(run, seeds, n_draws, n_gen, n_ref, ref_seed, extra_features)
    rows = [snapshot_calibration(run, s, seeds, n_draws, n_gen, n_steps, n_ref,
                                 partial_k if s in set(partial_steps) else False,
                                 ref_seed, extra_features=extra_features)
            for s in progress_bar(chosen, desc=f"calibration n_train={config.n_train}", disable=not progress)]
    exchange = run_exchange_null(run, n_gen, n_ref, ref_seed, extra_features)
    return _calibration_from(rows, refs, chosen, exchange)


def run_exchange_null(run: TrainedRun, n_gen: int = 300, n_ref: int = 300, ref_seed: int = 0,
                      extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[str, np.ndarray]:
    """:func:`exchange_null` of a run's data in the spaces of :func:`features.feature_spaces`,
    cached (it depends on the run only through its splits and its feature classifier)."""
    key = {"split": inference.split_identity(run), "n_gen": int(n_gen), "n_ref": int(n_ref),
           "ref_seed": int(ref_seed), "n_draws": EXCHANGE_DRAWS}
    key = features.with_features_identity(key, extra_features)

    def compute():
        held_images, held_labels = heldout_pool(run)
        out = exchange_null(run.splits.train.labels, held_images, held_labels,
                            features.feature_spaces(run.config, extra_features), n_gen, n_ref, seed=ref_seed)
        return {k: torch.from_numpy(np.asarray(v)) for k, v in out.items()}

    r = cache.cached_result("exchange-null", key, compute, _SOURCES)
    return {k: v.numpy() for k, v in r.items()}


# ----------------------------------------------------------------------------------------------
# Guidance: the same statistics for guided samples (cached)


def guidance_calibration(run: TrainedRun, weights: Sequence[float], negative_step: int, seeds: Sequence[int],
                         n_draws: int = 5, n_gen: int = 300, n_steps: int = 18, n_ref: int = 300,
                         ref_seed: int = 0, progress: bool = True,
                         extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """Calibrated statistics of guided samples of a class-conditional run (trained with label
    dropout), for classifier-free guidance and autoguidance (D_neg: the snapshot at
    ``negative_step``) at each weight, over sample seeds and reference draws.

    Samples follow :func:`inference.sample_set` (labels: the val set's class prior in turn);
    sample set ``s`` starts from per-sample noise seeded ``inference.SAMPLE_SEED + s * STRIDE + i``
    (seed 0: the default seeds of ``sample_set``). Returns tensors ``<kind>/<w>/<stat>`` (S, R) for
    kind in ("cfg", "auto") and each weight (w = 0 is shared), ``null/<stat>``, ``copier/<stat>``
    (R,), ``gaussian/<stat>`` (S, R), ``exchange/<stat>`` (the exchanged null, :func:`exchange_null`)
    and ``n_ref``.
    """
    from ..networks import resolve_device
    from ..progress import progress_bar

    config = run.config
    if not config.conditional or config.label_dropout <= 0:
        raise ValueError("guidance needs a conditional run trained with label dropout")
    if negative_step not in run.snapshots:
        raise ValueError(f"no snapshot at step {negative_step}; the run has {sorted(run.snapshots)}")
    seeds, weights = [int(s) for s in seeds], [float(w) for w in weights]
    key = {"run": run.key, "weights": weights, "negative_step": int(negative_step), "seeds": seeds,
           "n_draws": int(n_draws), "n_gen": int(n_gen), "n_steps": int(n_steps), "n_ref": int(n_ref),
           "ref_seed": int(ref_seed)}
    key = features.with_features_identity(key, extra_features)

    def compute():
        device = resolve_device(config.device)
        pos, early = run.denoiser, run.snapshots[negative_step]
        sp = run.splits
        held_images, held_labels = heldout_pool(run)
        cal = Calibration(sp.train.images, sp.train.labels, held_images, held_labels,
                          features.feature_spaces(config, extra_features, device), n_gen, n_ref, n_draws,
                          ref_seed)
        gauss = GaussianFit(sp.train.images)
        gen_labels = sp.val.labels[torch.arange(n_gen) % len(sp.val.labels)]
        out: Dict[str, Tensor] = {"n_ref": torch.tensor(cal.n_ref), "n_heldout": torch.tensor(len(held_images))}
        rows: Dict[str, List[Dict[str, np.ndarray]]] = {}
        jobs = [(kind, w, s) for kind in diffusion.GUIDANCE_KINDS for w in weights for s in seeds]
        for kind, w, s in progress_bar(jobs, desc="guidance calibration", disable=not progress):
            if w == 0 and kind != diffusion.GUIDANCE_KINDS[0]:  # D_0 = D_pos for every kind
                rows.setdefault(f"{kind}/{w:g}", []).append(rows[f"{diffusion.GUIDANCE_KINDS[0]}/{w:g}"][seeds.index(s)])
                continue
            den = diffusion.guided(pos, pos if kind == "cfg" else early, w, null_negative=kind == "cfg")
            samples = inference.sample_set(den, n_gen, sp.image_shape, gen_labels, n_steps, device,
                                           seed_base=inference.SAMPLE_SEED + s * SEED_STRIDE)
            rows.setdefault(f"{kind}/{w:g}", []).append(cal.model_statistics(samples))
        rows["gaussian"] = [cal.model_statistics(gauss.sample(n_gen, s)) for s in seeds]
        for name, rs in rows.items():
            for stat in rs[0]:
                out[f"{name}/{stat}"] = torch.from_numpy(np.stack([r[stat] for r in rs]))
        for name, st in cal.calibration_statistics().items():
            for stat, v in st.items():
                out[f"{name}/{stat}"] = torch.from_numpy(v)
        exchange = exchange_null(sp.train.labels, held_images, held_labels, cal.spaces, n_gen, n_ref, seed=ref_seed)
        for stat, v in exchange.items():
            out[f"exchange/{stat}"] = torch.from_numpy(np.asarray(v))
        return out

    return cache.cached_result("guidance-calibration", key, compute,
                               _SOURCES + cache.sources("measure/evaluation.py"))
