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
(:func:`~diffgen_lib.measure.statistics.memorization_index`).

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

Uncertainty: sample seeds times reference draws (:func:`diffgen_lib.measure.intervals.bootstrap`).

The statistics themselves are pure functions (:mod:`~diffgen_lib.measure.statistics`); a run's
statistics over its snapshots are :mod:`~diffgen_lib.measure.calibrated_run`, the exchanged null
:mod:`~diffgen_lib.measure.exchange`, the paper's uncalibrated protocol
:mod:`~diffgen_lib.measure.protocol`.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .. import cache, diffusion, features
from ..seeds import RECONSTRUCTION
from ..runs import TrainedRun
from . import inference, metrics
from .references import (MIN_NULL_POOL, GaussianFit, draw_references, heldout_pool,
                         reference_size)
from .statistics import nn_cos, nn_gap, stack_draws

Tensor = torch.Tensor
_SOURCES = cache.sources("measure/calibration.py", "measure/references.py", "measure/inference.py", "diffusion.py",
                         "measure/metrics.py", "features.py", "measure/intervals.py", "seeds.py")
SET_NAMES = ("model", "null", "copier", "gaussian")
STATISTICS = ("nn_gap", "nn_cos", "nn_val", "fd_gap", "fd_diff", "fd_val")
NN_STATISTICS = STATISTICS[:3]  # without covariances: every set, every space
MIXTURE_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # copies in the copy mixtures (:meth:`Calibration.mixture_statistics`)


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
        # each held-out image's two nearest training images (pixels): its memorization ratio d1/d2
        # (:func:`metrics.memorization_ratio`) and its nearest distance (the test set's of C_T)
        d12, _ = metrics.nearest_neighbors(val_images, train_images, k=2)
        self.val_nearest = d12[:, 0]
        self.val_ratios = d12[:, 0] / np.maximum(d12[:, 1], 1e-12)
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
        return {name: stack_draws(rows) for name, rows in out.items()}

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
            out[float(p)] = stack_draws(rows)
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
                             [RECONSTRUCTION.seed(0, j) for j in tr_idx], device, batch_size)
        rec_va = reconstruct(denoise, self.val_images[torch.from_numpy(va_idx)], sigma,
                             [RECONSTRUCTION.seed(1, j) for j in va_idx], device, batch_size)
        f_tr, f_va = self.features(rec_tr), self.features(rec_va)
        pos_tr, pos_va = np.searchsorted(tr_idx, np.arange(len(self.train_images))), \
            np.searchsorted(va_idx, np.arange(len(self.val_images)))
        out = {"null": [], "copier": []}
        for r, d in enumerate(self.draws):
            out["null"].append(self.statistics({s: v[pos_va[d.null]] for s, v in f_va.items()}, None, [r], with_fd=False))
            out["copier"].append(self.statistics({s: v[pos_tr[d.copier]] for s, v in f_tr.items()}, None, [r],
                                                 with_fd=False))
        return {name: stack_draws(rows) for name, rows in out.items()}


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
        _CALIBRATIONS.clear()  # one split at a time: a loop over runs keeps one
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

    The model's samples are the sampler records of :func:`inference.snapshot_sampler_record` (one per
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
        rows = [_record_statistics(cal, inference.snapshot_sampler_record(run, step, n_gen, n_steps, s), judged)
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
