"""The training-objective gap of a trained run (the paper's protocol), cached on disk.

For every snapshot of a run: the unweighted per-sample MSE of D(y + sigma n; sigma) on a fixed
set of training images and an equal-size fixed set of validation images, at the 64 log-spaced
sigmas in [0.002, 80], with the same per-image noise at every sigma and every snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from .. import cache, diffusion
from ..seeds import EVALUATION_NOISE
from . import intervals, metrics, summaries
from ..runs import TrainedRun

NOISE_SEED = EVALUATION_NOISE.seed()  # per-image noise of the evaluation sets: image j uses NOISE_SEED + j
_SOURCES = cache.sources("measure/evaluation.py", "measure/metrics.py", "seeds.py")


@dataclass
class GapCurves:
    """Mean denoising errors of one run: rows are snapshots (training steps), columns sigmas."""

    sigmas: np.ndarray       # (S,)
    steps: np.ndarray        # (T,)
    train_error: np.ndarray  # (T, S)
    val_error: np.ndarray    # (T, S)
    n_eval: int
    train_errors: Optional[np.ndarray] = None  # (T, S, n): every image's error (float32)
    val_errors: Optional[np.ndarray] = None    # (T, S, n)

    @property
    def gap(self) -> np.ndarray:
        """Relative gap (E_val - E_train) / E_train, (T, S); inf where the training error is 0 (the
        optimal denoiser, :func:`optimal_curves`, at small sigma)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return metrics.relative_gap(self.val_error, self.train_error)

    @property
    def threshold(self) -> np.ndarray:
        """Overfitting threshold: the gap at the validation-minimum snapshot, per sigma, (S,)."""
        return metrics.overfitting_threshold(self.val_error, self.train_error)

    def peak(self, snapshot: int = -1) -> dict:
        """Peak gap and its sigma for one snapshot (default: the last)."""
        return summaries.peak(self.sigmas, self.gap[snapshot])

    def image_interval(self, statistic: Callable[[np.ndarray, np.ndarray], float], level: float = 0.9,
                       n_boot: int = 1000, seed: int = 0) -> intervals.Estimate:
        """``statistic(train_error, val_error)`` of the curves (mean errors (T, S)) with its
        percentile-bootstrap interval over the evaluation images (:func:`intervals.paired_bootstrap`):
        the spread that comes from which images were evaluated, for one trained run."""
        return intervals.paired_bootstrap(self.train_errors, self.val_errors, statistic, level, n_boot, seed,
                                          covers=f"{self.n_eval} + {self.n_eval} evaluation images")


def evaluation_sets(run: TrainedRun, n_eval: int):
    """The fixed evaluation images (and labels, None when unconditional): the first n_eval
    training and the first n_eval validation images."""
    n_eval = min(n_eval, len(run.splits.train), len(run.splits.val))
    conditional = run.config.conditional
    tr, va = run.splits.train, run.splits.val
    return (tr.images[:n_eval], tr.labels[:n_eval] if conditional else None,
            va.images[:n_eval], va.labels[:n_eval] if conditional else None)


def train_val_errors(denoise, images, sigmas, noise_seed: int = NOISE_SEED, device=None):
    """Per-image denoising errors (S, n) of any denoiser on the evaluation images ``images`` =
    (x_train, labels_train, x_val, labels_val) (:func:`evaluation_sets`): train image j gets the
    noise of seed ``noise_seed + j``, val image j that of ``noise_seed + len(x_train) + j``, the
    same at every sigma and for every denoiser measured with the same seed (the paper's protocol).
    Returns (train errors, val errors)."""
    x_tr, l_tr, x_va, l_va = images
    return (metrics.denoising_errors(denoise, x_tr, sigmas, noise_seed, l_tr, device=device),
            metrics.denoising_errors(denoise, x_va, sigmas, noise_seed + len(x_tr), l_va, device=device))


WEIGHTS = ("raw", "ema")


def gap_curves(run: TrainedRun, n_eval: int = 200, sigmas: Optional[Sequence[float]] = None,
               steps: Optional[Sequence[int]] = None, noise_seed: int = NOISE_SEED,
               weights: str = "raw") -> GapCurves:
    """The run's denoising errors at every snapshot in ``steps`` (default: all), cached on disk
    by the run's key and the evaluation settings. ``weights``: "raw" (the snapshots' weights) or
    "ema" (their exponential moving average, kept beside them when the config has an EMA),
    measured on the same images with the same noise."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if weights == "ema" and not run.config.keeps_ema:
        raise ValueError("weights='ema' needs a config that keeps an EMA (ema_halflife_kimg or ema)")
    sigmas = diffusion.log_sigma_grid().numpy() if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    have = sorted(run.snapshots) if weights == "raw" else sorted(run.ema_states)
    chosen = have if steps is None else [int(s) for s in steps]
    missing = [s for s in chosen if s not in have]
    if missing:
        raise ValueError(f"run has no snapshots at steps {missing} ({weights} weights); it has {have}")
    steps_key = None if steps is None else chosen
    key = {"run": run.key, "n_eval": n_eval, "sigmas": [float(s) for s in sigmas],
           "steps": steps_key, "noise_seed": noise_seed}
    if weights != "raw":  # raw keeps the key it always had
        key["weights"] = weights

    def compute():
        images = evaluation_sets(run, n_eval)
        tr_err, va_err = [], []
        for step in chosen:  # metrics.denoising_errors runs without gradients
            den = run.snapshots[step] if weights == "raw" else run.ema_snapshot(step)
            tr, va = train_val_errors(den, images, sigmas, noise_seed)
            tr_err.append(tr)
            va_err.append(va)
        tr_err, va_err = np.stack(tr_err), np.stack(va_err)  # (T, S, n)
        return {"sigmas": torch.from_numpy(sigmas), "steps": torch.tensor(chosen),
                "train_error": torch.from_numpy(tr_err.mean(2)), "val_error": torch.from_numpy(va_err.mean(2)),
                "train_errors": torch.from_numpy(tr_err.astype(np.float32)),
                "val_errors": torch.from_numpy(va_err.astype(np.float32)), "n_eval": len(images[0])}

    r = cache.cached_result("gap-curves", key, compute, _SOURCES)
    return GapCurves(r["sigmas"].numpy(), r["steps"].numpy(), r["train_error"].numpy(),
                     r["val_error"].numpy(), int(r["n_eval"]), r["train_errors"].numpy(), r["val_errors"].numpy())


def denoising_gap(denoise: Callable, run: TrainedRun, n_eval: int, sigmas, device,
                  per_image: bool = False) -> Dict[str, np.ndarray]:
    """Mean train and val denoising errors of any denoiser on the run's fixed evaluation images
    (same images and noise as :func:`gap_curves`), and the relative gap; with ``per_image`` also
    the errors of every image, ``train_errors`` and ``val_errors`` (S, n)."""
    tr_all, va_all = train_val_errors(denoise, evaluation_sets(run, n_eval), sigmas, device=device)
    tr, va = tr_all.mean(1), va_all.mean(1)
    out = {"train_error": tr, "val_error": va, "gap": metrics.relative_gap(va, tr)}
    if per_image:
        out.update(train_errors=tr_all, val_errors=va_all)
    return out


def peak_ratio_interval(train_errors: np.ndarray, val_errors: np.ndarray, num: int, den: int,
                        level: float = 0.9, n_boot: int = 2000, seed: int = 0) -> intervals.Estimate:
    """Ratio of the peak relative gaps of two denoisers evaluated on the same images (rows ``num``
    and ``den`` of per-image errors (D, S, n), e.g. two window sizes) and its percentile-bootstrap
    interval over the evaluation images (:func:`intervals.paired_bootstrap`, the same images for both)."""
    def ratio(train_error, val_error):
        peaks = np.nanmax(metrics.relative_gap(val_error, train_error), axis=-1)
        return peaks[num] / peaks[den]

    return intervals.paired_bootstrap(train_errors, val_errors, ratio, level, n_boot, seed)


def optimal_curves(run: TrainedRun, n_eval: int = 200, sigmas: Optional[Sequence[float]] = None,
                   noise_seed: int = NOISE_SEED) -> GapCurves:
    """The optimal (empirical) denoiser of the run's training split (EDM, appendix B.3) measured
    exactly like the network by :func:`gap_curves` (same evaluation images, same per-image noise,
    same sigma grid): the perfect memorizer, one "snapshot" at step 0. Its training error is 0 at
    small sigma (it returns the training image), so its relative gap is unbounded there. Cached by
    the run's data split (no network is involved)."""
    from .. import analytic
    from .inference import split_identity

    if run.config.labels == "kmeans":
        raise ValueError("optimal_curves supports unconditional and class-conditional runs")
    sigmas = diffusion.log_sigma_grid().numpy() if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    key = {"split": split_identity(run), "n_eval": int(n_eval), "sigmas": [float(s) for s in sigmas],
           "noise_seed": noise_seed}

    def compute():
        tr = run.splits.train
        den = analytic.image_denoiser(tr.images, tr.labels if run.config.conditional else None)
        images = evaluation_sets(run, n_eval)
        tr_all, va_all = train_val_errors(den, images, sigmas, noise_seed)
        return {"sigmas": torch.from_numpy(sigmas), "train_errors": torch.from_numpy(tr_all[None]),
                "val_errors": torch.from_numpy(va_all[None]), "n_eval": len(images[0])}

    r = cache.cached_result("optimal-curves", key, compute, _SOURCES + cache.sources("analytic.py"))
    tr, va = r["train_errors"].numpy(), r["val_errors"].numpy()
    return GapCurves(r["sigmas"].numpy(), np.array([0]), tr.mean(-1), va.mean(-1), int(r["n_eval"]), tr, va)


def training_index(curves: GapCurves, optimal: GapCurves, snapshot: int = -1, sigma: Optional[float] = None,
                   n_boot: int = 1000, seed: int = 0) -> intervals.Estimate:
    """The training-side memorization index at one noise level (default: the snapshot's gap peak),
    m_train = (E_val - E_train) / (E_val - E_train_opt): 0 without a train/val gap, 1 when the
    network denoises its training images as well as a perfect memorizer (the optimal denoiser's
    error E_train_opt on the same images with the same noise). Its interval resamples the
    evaluation images (the same training images for the network and the optimal denoiser)."""
    if not np.allclose(curves.sigmas, optimal.sigmas):
        raise ValueError("the network's and the optimal denoiser's curves are on different sigma grids")
    if sigma is None:
        sigma = curves.peak(snapshot)["peak_sigma"]
    k = summaries.nearest_index(curves.sigmas, sigma)
    tr = np.stack([curves.train_errors[snapshot, k], optimal.train_errors[0, k]])  # (2, n): same images
    va = curves.val_errors[snapshot, k][None]

    def index(train_means, val_means):
        return (val_means[0] - train_means[0]) / (val_means[0] - train_means[1])

    return intervals.paired_bootstrap(tr, va, index, n_boot=n_boot, seed=seed,
                                      covers=f"{curves.n_eval} + {curves.n_eval} evaluation images")


def exchanged_curves(run: TrainedRun, n_eval: int = 200, noise_seed: int = NOISE_SEED) -> GapCurves:
    """The null of the training gap: the run's snapshots measured exactly as by :func:`gap_curves`,
    with held-out images it never trained on (:func:`references.heldout_pool`, past the val split)
    in the training images' place, with the noise the training images get. The val images and
    their errors are those of :func:`gap_curves`. Its relative gap is between two sets of fresh
    images: 0 in expectation at every snapshot, a gap that cannot grow. Cached."""
    from .references import heldout_pool

    held, held_labels = heldout_pool(run)
    n_val = len(run.splits.val)
    spare = held[n_val:]
    if len(spare) < 2:
        raise ValueError(f"the dataset has no held-out images besides the val split for run {run.config.dataset}, "
                         f"N={run.config.n_train}: no exchanged null")
    base = gap_curves(run, n_eval)
    n = min(base.n_eval, len(spare))
    key = {"run": run.key, "n_eval": int(n_eval), "noise_seed": noise_seed, "exchanged": True}
    conditional = run.config.conditional

    def compute():
        labels = held_labels[n_val:n_val + n] if conditional else None
        errors = [metrics.denoising_errors(run.snapshots[int(step)], spare[:n], base.sigmas, noise_seed, labels)
                  for step in base.steps]
        errors = np.stack(errors)  # (T, S, n)
        return {"train_error": torch.from_numpy(errors.mean(2)),
                "train_errors": torch.from_numpy(errors.astype(np.float32))}

    r = cache.cached_result("exchanged-curves", key, compute, _SOURCES + cache.sources("measure/references.py"))
    return GapCurves(base.sigmas, base.steps, r["train_error"].numpy(), base.val_error, n, r["train_errors"].numpy(),
                     base.val_errors)
