"""The training-objective gap of a trained run (the paper's protocol), cached on disk.

For every snapshot of a run: the unweighted per-sample MSE of D(y + sigma n; sigma) on a fixed
set of training images and an equal-size fixed set of validation images, at the 64 log-spaced
sigmas in [0.002, 80], with the same per-image noise at every sigma and every snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import cache, diffusion
from . import metrics, summaries
from ..runs import TrainedRun

NOISE_SEED = 20_260_313  # per-image noise of the evaluation sets: image j uses NOISE_SEED + j
_SOURCES = cache.sources("measure/evaluation.py", "measure/metrics.py")


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
        """Relative gap (E_val - E_train) / E_train, (T, S)."""
        return metrics.relative_gap(self.val_error, self.train_error)

    @property
    def threshold(self) -> np.ndarray:
        """Overfitting threshold: the gap at the validation-minimum snapshot, per sigma, (S,)."""
        return metrics.overfitting_threshold(self.val_error, self.train_error)

    def peak(self, snapshot: int = -1) -> dict:
        """Peak gap and its sigma for one snapshot (default: the last)."""
        return summaries.peak(self.sigmas, self.gap[snapshot])

    def image_interval(self, statistic: Callable[[np.ndarray, np.ndarray], float], level: float = 0.9,
                       n_boot: int = 1000, seed: int = 0) -> Tuple[float, float, float]:
        """``statistic(train_error, val_error)`` of the curves (mean errors (T, S)) with its
        percentile-bootstrap interval over the evaluation images (:func:`image_bootstrap`): the
        spread that comes from which images were evaluated, for one trained run."""
        return image_bootstrap(self.train_errors, self.val_errors, statistic, level, n_boot, seed)


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


def image_bootstrap(train_errors: np.ndarray, val_errors: np.ndarray,
                    statistic: Callable[[np.ndarray, np.ndarray], float], level: float = 0.9,
                    n_boot: int = 1000, seed: int = 0) -> Tuple[float, float, float]:
    """``statistic(mean train errors, mean val errors)`` of per-image errors (..., n) (the mean is
    over the last axis) and its percentile-bootstrap interval over the evaluation images: each
    bootstrap sample redraws the train and the val images with replacement, the same images in
    every row (snapshot, denoiser, sigma). Returns (value on all images, low, high)."""
    tr, va = np.asarray(train_errors, np.float64), np.asarray(val_errors, np.float64)

    def value(i_tr, i_va):
        return statistic(tr[..., i_tr].mean(-1), va[..., i_va].mean(-1))

    rng = np.random.default_rng(seed)
    n_tr, n_va = tr.shape[-1], va.shape[-1]
    values = np.array([value(rng.integers(0, n_tr, n_tr), rng.integers(0, n_va, n_va)) for _ in range(n_boot)])
    tail = (1 - level) / 2
    if np.isfinite(values).all():
        lo, hi = np.quantile(values, [tail, 1 - tail])
    else:  # e.g. a ratio to a peak that is not positive in some draws: no interpolation with inf
        lo, hi = np.quantile(values, tail, method="lower"), np.quantile(values, 1 - tail, method="higher")
    return float(value(np.arange(n_tr), np.arange(n_va))), float(lo), float(hi)


def peak_ratio_interval(train_errors: np.ndarray, val_errors: np.ndarray, num: int, den: int,
                        level: float = 0.9, n_boot: int = 2000, seed: int = 0) -> Tuple[float, float, float]:
    """Ratio of the peak relative gaps of two denoisers evaluated on the same images (rows ``num``
    and ``den`` of per-image errors (D, S, n), e.g. two window sizes) and its percentile-bootstrap
    interval over the evaluation images (:func:`image_bootstrap`, the same images for both)."""
    def ratio(train_error, val_error):
        peaks = np.nanmax(metrics.relative_gap(val_error, train_error), axis=-1)
        return peaks[num] / peaks[den]

    return image_bootstrap(train_errors, val_errors, ratio, level, n_boot, seed)
