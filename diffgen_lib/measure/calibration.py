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
from .verdicts import bootstrap_interval

Tensor = torch.Tensor
_SOURCES = cache.sources("measure/calibration.py", "measure/inference.py", "diffusion.py", "measure/metrics.py",
                         "features.py", "measure/verdicts.py")
SET_NAMES = ("model", "null", "copier", "gaussian")
STATISTICS = ("nn_gap", "fd_gap", "fd_diff", "nn_cos")
MIN_NULL_POOL = 100          # val images kept out of the val reference for the null, at least
GAUSSIAN_SEED = 7_000_000_000  # Gaussian sample i of sample seed s: noise seed GAUSSIAN_SEED + s * STRIDE + i
RECON_SEED = 31_337          # per-image noise of the calibration sets' reconstructions (train j: RECON_SEED + j)
RECON_VAL_OFFSET = 10_000_000  # val image j: RECON_SEED + RECON_VAL_OFFSET + j
SEED_STRIDE = 1_000_003


# ----------------------------------------------------------------------------------------------
# Held-out images, reference draws and the calibration sets


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
    rng = np.random.default_rng([int(seed), 7919])
    train_ref = np.arange(n_train) if n == n_train else np.sort(rng.choice(n_train, n, replace=False))
    val_ref = metrics.matched_subsets(val_labels, train_labels[train_ref], 1, seed=int(rng.integers(2 ** 31)),
                                      fallback=True)[0]  # a class too rare in the val split: a random draw
    pool = np.setdiff1d(np.arange(n_val), val_ref)
    null = rng.choice(pool, int(n_gen), replace=True)
    copier = rng.choice(n_train, int(n_gen), replace=True)
    return ReferenceDraw(train_ref, val_ref, null, copier)


def copier_images(train_images: Tensor, n_gen: int, seed: int = 0) -> Tensor:
    """``n_gen`` training images drawn with replacement: the samples of a sampler that only copies."""
    rng = np.random.default_rng([int(seed), 7919, 1])
    return train_images[torch.from_numpy(rng.choice(len(train_images), int(n_gen), replace=True))]


class GaussianFit:
    """N(mean, covariance) of the training pixels: learns the moments, copies nothing."""

    def __init__(self, train_images: Tensor):
        x = train_images.reshape(len(train_images), -1).double()
        self.shape = tuple(train_images.shape[1:])
        self.mean = x.mean(0)
        self.root = metrics.psd_sqrt(torch.cov(x.T))

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """n samples; sample i uses its own CPU generator seeded ``GAUSSIAN_SEED + seed * STRIDE + i``."""
        z = diffusion.per_sample_noise([GAUSSIAN_SEED + seed * SEED_STRIDE + i for i in range(n)],
                                       (self.mean.numel(),), dtype=torch.float64)
        return (self.mean + z @ self.root).float().reshape((n,) + self.shape)


# ----------------------------------------------------------------------------------------------
# Statistics of a sample set against the references of every draw


class Calibration:
    """References of ``n_draws`` draws, their FD statistics and the features of every train and
    val image in each feature space, computed once for any number of sample sets.

    ``spaces``: name -> feature extractor (pixels, the feature classifier, ...). The nearest-
    neighbour cosine probe is computed in every space.
    """

    def __init__(self, train_images: Tensor, train_labels, val_images: Tensor, val_labels,
                 spaces: Dict[str, Callable], n_gen: int, n_ref: int, n_draws: int = 5, seed: int = 0,
                 min_null: int = MIN_NULL_POOL):
        self.train_images, self.val_images = train_images, val_images
        self.spaces, self.n_gen = dict(spaces), int(n_gen)
        self.n_ref = reference_size(len(train_images), len(val_images), n_ref, min_null)
        self.draws = [draw_references(np.asarray(train_labels), np.asarray(val_labels), n_gen, n_ref,
                                      seed * 1000 + r, min_null) for r in range(n_draws)]
        self.train_feats = {s: features.as_numpy_features(f, train_images) for s, f in self.spaces.items()}
        self.val_feats = {s: features.as_numpy_features(f, val_images) for s, f in self.spaces.items()}
        self.fd = [{s: metrics.FDReference(self.train_feats[s][d.train_ref], self.val_feats[s][d.val_ref],
                                           [np.arange(self.n_ref)]) for s in self.spaces} for d in self.draws]
        self.val_ratios = metrics.memorization_ratio(val_images, train_images)
        # float32 copies for the distances and cosine similarities (the FDs stay in float64)
        self._train32 = {s: torch.as_tensor(v, dtype=torch.float32) for s, v in self.train_feats.items()}
        self._val32 = {s: torch.as_tensor(v, dtype=torch.float32) for s, v in self.val_feats.items()}
        self._train_unit = {s: _unit(v) for s, v in self._train32.items()}
        self._val_unit = {s: _unit(v) for s, v in self._val32.items()}
        full = len(train_images)
        self._train_idx = [None if len(d.train_ref) == full else torch.from_numpy(d.train_ref) for d in self.draws]
        self._val_idx = [torch.from_numpy(d.val_ref) for d in self.draws]

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    @property
    def dilution(self) -> float:
        """Share of the training set in the train reference (1: a copier matches it fully)."""
        return self.n_ref / len(self.train_images)

    def features(self, images: Tensor) -> Dict[str, np.ndarray]:
        return {s: features.as_numpy_features(f, images) for s, f in self.spaces.items()}

    def statistics(self, feats: Dict[str, np.ndarray], ratios: Optional[np.ndarray] = None,
                   draws: Optional[Sequence[int]] = None) -> Dict[str, np.ndarray]:
        """Every statistic of one sample set (its features per space; ``ratios``: its memorization
        ratios d1/d2 for the copy fraction) against the references of each draw in ``draws``
        (default: all): ``{"<space>/<stat>": (len(draws),), "copy_fraction": ...}``."""
        draws = list(range(self.n_draws)) if draws is None else list(draws)
        out: Dict[str, np.ndarray] = {}
        for s, f in feats.items():
            x = torch.as_tensor(np.asarray(f), dtype=torch.float32)
            exact = "donot_use_mm_for_euclid_dist"  # the matrix-product form loses the zeros of exact copies
            d_tr = torch.cdist(x, self._train32[s], compute_mode=exact)
            d_va = torch.cdist(x, self._val32[s], compute_mode=exact)
            xn = _unit(x)
            c_tr, c_va = xn @ self._train_unit[s].T, xn @ self._val_unit[s].T
            g_stats = self.fd[draws[0]][s].gen_stats(f) if draws else None
            rows = {k: [] for k in STATISTICS}
            for r in draws:
                tr, va = self._train_idx[r], self._val_idx[r]
                dt, ct = (d_tr, c_tr) if tr is None else (d_tr[:, tr], c_tr[:, tr])
                a = float(dt.min(1).values.double().mean())
                b = float(d_va[:, va].min(1).values.double().mean())
                rows["nn_gap"].append((b - a) / b)
                rows["nn_cos"].append(float(ct.max(1).values.double().mean() - c_va[:, va].max(1).values.double().mean()))
                g = self.fd[r][s].gap_from_stats(*g_stats)
                rows["fd_gap"].append(g.gap)
                rows["fd_diff"].append(g.fd_val - g.fd_train)
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
                                               self.val_ratios[d.null], [r]))
            out["copier"].append(self.statistics({s: v[d.copier] for s, v in self.train_feats.items()},
                                                 np.zeros(len(d.copier)), [r]))
        return {name: _stack_draws(rows) for name, rows in out.items()}

    def reconstruction_statistics(self, denoise: Callable, sigma: float, device="cpu",
                                  batch_size: int = 512) -> Dict[str, Dict[str, np.ndarray]]:
        """The calibration sets for partial inference at ``sigma``: the denoiser's outputs
        D(y + sigma n; sigma) for the null's and the copier's images y (per-image noise, the same
        at every sigma), through :meth:`statistics` against each draw's references."""
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
            out["null"].append(self.statistics({s: v[pos_va[d.null]] for s, v in f_va.items()}, None, [r]))
            out["copier"].append(self.statistics({s: v[pos_tr[d.copier]] for s, v in f_tr.items()}, None, [r]))
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


def _unit(x) -> Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, dtype=np.float64))
    return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)


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


def snapshot_calibration(run: TrainedRun, step: int, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300,
                         n_steps: int = 18, n_ref: int = 300, partial: bool = False, ref_seed: int = 0,
                         extra_features: Optional[features.PretrainedFeatures] = None) -> dict:
    """Calibrated statistics of one snapshot of a run, cached.

    The model's samples are the sampler records of :func:`inference.sampler_record` (one per
    sample seed). Returns tensors: ``final/<stat>/model`` (S, R), ``final/<stat>/gaussian``
    (S, R), ``final/<stat>/null`` and ``final/<stat>/copier`` (R,); ``ratios/<set>`` (the model's
    and the Gaussian's (S, M), the null's and the copier's of draw 0 (M,)); with ``partial``,
    ``partial/<stat>/<set>`` for every sampler step k: model (S, R, K), null and copier (R, K),
    where the null and the copier at step k are the snapshot's reconstructions of their images
    at sigma_k (:meth:`Calibration.reconstruction_statistics`).
    """
    seeds = [int(s) for s in seeds]
    key = {"run": run.key, "step": int(step), "seeds": seeds, "n_draws": int(n_draws),
           "n_gen": int(n_gen), "n_steps": int(n_steps), "n_ref": int(n_ref), "partial": bool(partial),
           "ref_seed": int(ref_seed)}
    key = features.with_features_identity(key, extra_features)

    def compute():
        net = run.snapshots[step]
        dev = next(net.parameters()).device
        held_images, held_labels = heldout_pool(run)
        cal = Calibration(run.splits.train.images, run.splits.train.labels, held_images, held_labels,
                          features.feature_spaces(run.config, extra_features), n_gen, n_ref, n_draws, ref_seed)
        gauss = GaussianFit(run.splits.train.images)
        out: Dict[str, Tensor] = {"n_ref": torch.tensor(cal.n_ref), "dilution": torch.tensor(cal.dilution),
                                  "n_heldout": torch.tensor(len(held_images))}
        model, gaussian, partial_model, ratios_m, ratios_g = [], [], [], [], []
        rec = None
        for s in seeds:
            rec = inference.sampler_record(run, step, n_gen, n_steps, s)
            model.append(cal.model_statistics(rec["final"]))
            ratios_m.append(metrics.memorization_ratio(rec["final"], cal.train_images))
            g_img = gauss.sample(n_gen, s)
            gaussian.append(cal.model_statistics(g_img))
            ratios_g.append(metrics.memorization_ratio(g_img, cal.train_images))
            if partial:
                partial_model.append([cal.statistics(cal.features(d)) for d in rec["denoised"]])
        calib = cal.calibration_statistics()
        for stat in model[0]:
            out[f"final/{stat}/model"] = torch.from_numpy(np.stack([m[stat] for m in model]))
            out[f"final/{stat}/gaussian"] = torch.from_numpy(np.stack([g[stat] for g in gaussian]))
            out[f"final/{stat}/null"] = torch.from_numpy(calib["null"][stat])
            out[f"final/{stat}/copier"] = torch.from_numpy(calib["copier"][stat])
        out["ratios/model"] = torch.from_numpy(np.stack(ratios_m))
        out["ratios/gaussian"] = torch.from_numpy(np.stack(ratios_g))
        out["ratios/null"] = torch.from_numpy(cal.val_ratios[cal.draws[0].null])
        out["ratios/copier"] = torch.zeros(n_gen, dtype=torch.float64)
        if partial:
            sigmas = rec["sigmas"].numpy()
            out["sigmas"] = torch.from_numpy(np.asarray(sigmas, dtype=np.float64))
            recon = [cal.reconstruction_statistics(lambda x, s_: net(x, s_), float(sig), dev) for sig in sigmas]
            for stat in partial_model[0][0]:
                out[f"partial/{stat}/model"] = torch.from_numpy(np.stack(
                    [np.stack([pm[k][stat] for k in range(len(sigmas))], axis=-1) for pm in partial_model]))
                for name in ("null", "copier"):
                    out[f"partial/{stat}/{name}"] = torch.from_numpy(np.stack(
                        [recon[k][name][stat] for k in range(len(sigmas))], axis=-1))
        return out

    return cache.cached_result("snapshot-calibration", key, compute, _SOURCES)


@dataclass
class RunCalibration:
    """Calibrated statistics of the snapshots of one run (T snapshots, S seeds, R draws)."""

    steps: np.ndarray                      # (T,)
    n_ref: int
    n_heldout: int                         # held-out images (val split and unused ones) of the val reference and the null
    dilution: float
    final: Dict[str, Dict[str, np.ndarray]]    # stat -> set -> model/gaussian (T, S, R), null/copier (T, R)
    ratios: Dict[str, np.ndarray]          # set -> model/gaussian (T, S, M), null/copier (T, M)
    partial: Dict[str, Dict[str, np.ndarray]]  # stat -> set -> model (S, R, K), null/copier (R, K): last partial snapshot
    sigmas: Optional[np.ndarray]           # (K,) sampler sigmas of the partial statistics
    exchange: Dict[str, np.ndarray] = field(default_factory=dict)  # stat -> (E,): the exchanged null (:func:`exchange_null`)

    @property
    def stats(self) -> List[str]:
        return list(self.final)

    def index(self, stat: str, t: int = -1, which: str = "model") -> np.ndarray:
        """Per-draw memorization index (S, R) of ``which`` (model or gaussian) at snapshot t."""
        f = self.final[stat]
        return index_draws(f[which][t], f["null"][t], f["copier"][t])

    def partial_index(self, stat: str) -> np.ndarray:
        """Per-draw memorization index (S, R, K) of partial inference at every sampler step."""
        p = self.partial[stat]
        return (p["model"] - p["null"][None]) / (p["copier"] - p["null"])[None]


def run_calibration(run: TrainedRun, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300, n_steps: int = 18,
                    n_ref: int = 300, partial_steps: Sequence[int] = (), steps: Optional[Sequence[int]] = None,
                    ref_seed: int = 0, progress: bool = True,
                    extra_features: Optional[features.PretrainedFeatures] = None) -> RunCalibration:
    """:func:`snapshot_calibration` for every snapshot (or ``steps``) of a run, with partial
    inference at the snapshots in ``partial_steps`` (the last of them is kept)."""
    from ..progress import progress_bar

    config = run.config
    chosen = sorted(set(int(s) for s in (steps if steps is not None else
                                          list(config.snapshot_steps or ()) + [config.max_steps])))
    rows = [snapshot_calibration(run, s, seeds, n_draws, n_gen, n_steps, n_ref, s in set(partial_steps),
                                 ref_seed, extra_features=extra_features)
            for s in progress_bar(chosen, desc=f"calibration n_train={config.n_train}", disable=not progress)]
    stats = sorted({k.split("/", 1)[1].rsplit("/", 1)[0] for k in rows[0] if k.startswith("final/")})
    final = {st: {name: np.stack([r[f"final/{st}/{name}"].numpy() for r in rows]) for name in SET_NAMES}
             for st in stats}
    ratios = {name: np.stack([r[f"ratios/{name}"].numpy() for r in rows]) for name in SET_NAMES}
    with_partial = [r for r in rows if "sigmas" in r]
    partial, sigmas = {}, None
    if with_partial:
        p = with_partial[-1]
        sigmas = p["sigmas"].numpy()
        pstats = sorted({k.split("/", 1)[1].rsplit("/", 1)[0] for k in p if k.startswith("partial/")})
        partial = {st: {name: p[f"partial/{st}/{name}"].numpy() for name in ("model", "null", "copier")}
                   for st in pstats}
    exchange = run_exchange_null(run, n_gen, n_ref, ref_seed, extra_features)
    return RunCalibration(np.array(chosen), int(rows[0]["n_ref"]), int(rows[0]["n_heldout"]),
                          float(rows[0]["dilution"]), final, ratios,
                          partial, sigmas, exchange)


def run_exchange_null(run: TrainedRun, n_gen: int = 300, n_ref: int = 300, ref_seed: int = 0,
                      extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[str, np.ndarray]:
    """:func:`exchange_null` of a run's data in the spaces of :func:`features.feature_spaces`,
    cached (it depends on the run only through its splits and its feature classifier)."""
    key = {"run": run.key, "n_gen": int(n_gen), "n_ref": int(n_ref), "ref_seed": int(ref_seed),
           "n_draws": EXCHANGE_DRAWS}
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
