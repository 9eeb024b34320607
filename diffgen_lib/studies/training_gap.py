"""The training-gap chapter's measurements beyond :mod:`diffgen_lib.measure.evaluation` (claims C2, C3).

- :func:`optimal_curves`: the exact optimal denoiser of a run's training split, measured exactly
  like the network (same evaluation images, same per-image noise, same sigma grid): the "perfect
  memorizer" reference. Cached on disk.
- :func:`reconstructions`: D(y + sigma n; sigma) of a few fixed train and val images for every
  snapshot of a run, with the distances that say whether a reconstruction moved towards its own
  (training) image or towards another training image.
- :func:`spacing`: nearest-neighbour distances between training images and from validation
  images to the training set, and the noise levels they translate into.
- :func:`c3_draw`: C3's statistics of one curve (peaks, ends: :mod:`summaries`).
- :func:`run_claim_intervals`: C2a's and C3's statistics of one run with intervals over its
  evaluation images (a scale trained with one seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .. import analytic, cache, diffusion
from ..measure import metrics, summaries
from ..data import load_splits
from ..measure.evaluation import NOISE_SEED, GapCurves, train_val_errors
from ..runs import TrainConfig, TrainedRun

Tensor = torch.Tensor
_SOURCES = cache.sources("studies/training_gap.py", "analytic.py", "measure/metrics.py", "data.py",
                         "measure/evaluation.py")


# ----------------------------------------------------------------------------------------------
# The optimal denoiser on the evaluation grid


@dataclass
class OptimalCurves:
    """Mean denoising errors of the optimal denoiser of the training split, per sigma."""

    sigmas: np.ndarray       # (S,)
    train_error: np.ndarray  # (S,)
    val_error: np.ndarray    # (S,)
    n_eval: int

    @property
    def gap(self) -> np.ndarray:
        """Relative gap; inf where the training error is exactly 0 (the memorizer at small sigma)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return metrics.relative_gap(self.val_error, self.train_error)


def optimal_curves(config: TrainConfig, n_eval: int = 300, sigmas: Optional[Sequence[float]] = None,
                   noise_seed: int = NOISE_SEED) -> OptimalCurves:
    """The optimal denoiser of ``config``'s training split on the evaluation protocol of
    :func:`diffgen_lib.measure.evaluation.gap_curves` (the first ``n_eval`` train and val images, image j
    of the train set with noise seed ``noise_seed + j``, of the val set ``noise_seed + n + j``).
    Needs no training: only the data split of the config. Conditional configs (``labels ==
    "class"``) get the class-conditional optimal denoiser. Cached on disk."""
    if config.labels == "kmeans":
        raise ValueError("optimal_curves supports labels 'none' and 'class'")
    sigmas = diffusion.log_sigma_grid().numpy() if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    split_key = {k: getattr(config, k) for k in ("dataset", "n_train", "n_val", "n_feature",
                                                 "split_seed", "labels")}
    key = {"split": split_key, "n_eval": n_eval, "sigmas": [float(s) for s in sigmas],
           "noise_seed": noise_seed}

    def compute():
        splits = load_splits(config.dataset, config.n_train, config.n_val, config.n_feature,
                             seed=config.split_seed, root=config.root)
        n = min(n_eval, len(splits.train), len(splits.val))
        cond = config.labels == "class"
        tr, va = splits.train, splits.val
        den = analytic.image_denoiser(tr.images, tr.labels if cond else None)
        images = (tr.images[:n], tr.labels[:n] if cond else None, va.images[:n], va.labels[:n] if cond else None)
        tr_all, va_all = train_val_errors(den, images, sigmas, noise_seed)
        tr_err, va_err = tr_all.mean(1), va_all.mean(1)
        return {"sigmas": torch.from_numpy(sigmas), "train_error": torch.from_numpy(tr_err),
                "val_error": torch.from_numpy(va_err), "n_eval": n}

    r = cache.cached_result("optimal-curves", key, compute, _SOURCES)
    return OptimalCurves(r["sigmas"].numpy(), r["train_error"].numpy(), r["val_error"].numpy(),
                         int(r["n_eval"]))


# ----------------------------------------------------------------------------------------------
# Reconstructions


@dataclass
class Reconstructions:
    """D(y + sigma n; sigma) of fixed train and val images, per snapshot.

    ``train[step]``, ``val[step]``: (K, C, H, W). ``*_own``: mean squared distance per pixel of the
    reconstructions to their own clean image; ``*_nn``: to the nearest training image other than
    their own (for val images: the nearest training image). A memorizing denoiser brings the
    reconstructions of training images to their own image (``train_own`` -> 0) and those of val
    images to a training image (``val_nn`` small)."""

    sigma: float
    steps: list
    clean_train: Tensor
    clean_val: Tensor
    noisy_train: Tensor
    noisy_val: Tensor
    train: Dict[int, Tensor]
    val: Dict[int, Tensor]
    train_own: Dict[int, float]
    train_nn: Dict[int, float]
    val_own: Dict[int, float]
    val_nn: Dict[int, float]


def _msd(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared difference per pixel of every row of a to every row of b: (len(a), len(b))."""
    a, b = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    return torch.cdist(a, b).pow(2) / a.shape[1]


def distances(recon: Tensor, own: Tensor, train_images: Tensor, own_index: Optional[Tensor] = None):
    """(mean squared distance per pixel to ``own``, to the nearest training image except the
    image's own one), both averaged over the K reconstructions. ``own_index[k]`` is the position
    of reconstruction k's clean image in ``train_images`` (None for val images)."""
    to_own = ((recon.double() - own.double()) ** 2).flatten(1).mean(1)
    d = _msd(recon, train_images)
    if own_index is not None:
        d[torch.arange(len(recon)), own_index] = math.inf
    return float(to_own.mean()), float(d.min(1).values.mean())


@torch.no_grad()
def reconstructions(run: TrainedRun, sigma: float, n_images: int = 6,
                    noise_seed: int = NOISE_SEED, n_eval: int = 300,
                    steps: Optional[Sequence[int]] = None, denoisers: Optional[dict] = None) -> Reconstructions:
    """Reconstructions of the first ``n_images`` evaluation images of each set (with the noise
    they get in :func:`diffgen_lib.measure.evaluation.gap_curves` with the same ``n_eval``) at ``sigma``,
    for every snapshot (or ``steps``). ``denoisers`` replaces the run's snapshots
    ({name: D(x, sigma[, labels])}, e.g. the optimal denoiser)."""
    tr, va = run.splits.train, run.splits.val
    n = min(n_eval, len(tr), len(va))
    k = min(n_images, n)
    cond = run.config.conditional
    shape = tr.images.shape[1:]
    noise_tr = diffusion.per_sample_noise([noise_seed + j for j in range(k)], shape)
    noise_va = diffusion.per_sample_noise([noise_seed + n + j for j in range(k)], shape)
    y_tr, y_va = tr.images[:k], va.images[:k]
    x_tr, x_va = y_tr + sigma * noise_tr, y_va + sigma * noise_va
    if denoisers is None:
        chosen = sorted(run.snapshots) if steps is None else [int(s) for s in steps]
        denoisers = {s: run.snapshots[s] for s in chosen}
    out = Reconstructions(float(sigma), list(denoisers), y_tr, y_va, x_tr, x_va,
                          {}, {}, {}, {}, {}, {})
    for name, den in denoisers.items():
        dev = metrics._device_of(den)
        sig = torch.full((k,), float(sigma), device=dev)

        def call(x, labels):
            x = x.to(dev)
            r = den(x, sig) if not cond else den(x, sig, labels.to(dev))
            return r.float().cpu()

        out.train[name] = call(x_tr, tr.labels[:k])
        out.val[name] = call(x_va, va.labels[:k])
        out.train_own[name], out.train_nn[name] = distances(out.train[name], y_tr, tr.images,
                                                            torch.arange(k))
        out.val_own[name], out.val_nn[name] = distances(out.val[name], y_va, tr.images)
    return out


# ----------------------------------------------------------------------------------------------
# Spacing of the training points


@dataclass
class Spacing:
    """Nearest-neighbour distances (Euclidean, whole image) and the noise levels they give."""

    dim: int
    n_train: int
    train_nn: float      # median distance of a training image to its nearest other training image
    val_nn: float        # median distance of a val image to its nearest training image
    sigma_data: float

    @property
    def per_pixel(self) -> float:
        """train_nn / sqrt(D): the spacing as a per-pixel noise level (noise of std sigma has
        norm about sigma sqrt(D))."""
        return self.train_nn / math.sqrt(self.dim)

    @property
    def val_per_pixel(self) -> float:
        return self.val_nn / math.sqrt(self.dim)

    @property
    def resolve_sigma(self) -> float:
        """val_nn / (2 sqrt(2 ln N)): below about this sigma the posterior of a noisy image
        concentrates on single training points. For x = y_i + sigma n, the log posterior odds of
        y_i against y_j at distance d are d^2 / (2 sigma^2) + (d / sigma) n.u, so y_i wins against
        the N - 1 others once d^2 / (2 sigma^2) exceeds about ln N; the factor 2 takes the
        midpoint between a val image and its nearest training image as the distance to resolve."""
        return self.val_nn / (2 * math.sqrt(2 * math.log(self.n_train)))


def spacing(train_images: Tensor, val_images: Tensor, sigma_data: float) -> Spacing:
    """Nearest-neighbour spacing of a training set (exact, all pairs)."""
    tr = train_images.reshape(len(train_images), -1).double()
    va = val_images.reshape(len(val_images), -1).double()
    d = torch.cdist(tr, tr)
    d.fill_diagonal_(math.inf)
    return Spacing(dim=tr.shape[1], n_train=len(tr), train_nn=float(d.min(1).values.median()),
                   val_nn=float(torch.cdist(va, tr).min(1).values.median()), sigma_data=float(sigma_data))


# ----------------------------------------------------------------------------------------------
# Summaries for the claims


# ----------------------------------------------------------------------------------------------
# C3 over training seeds (all_verdict, worst_verdict: from verdicts)


def c3_draw(sigmas, gap, margin: int = 1) -> Dict[str, float]:
    """C3's statistics of one gap curve (one training seed's last snapshot): the peak's grid
    index and sigma, whether it lies ``margin`` points inside the grid, and the end ratio
    (:func:`summaries.end_ratio`)."""
    gap = np.asarray(gap, dtype=np.float64)
    k = int(np.nanargmax(gap))
    return {"index": k, "sigma": float(np.asarray(sigmas)[k]), "peak": float(gap[k]),
            "inside": summaries.interior(k, len(gap), margin), "end_ratio": summaries.end_ratio(gap),
            "low_end": abs(gap[0]) / gap[k] if gap[k] > 0 else math.inf,
            "high_end": abs(gap[-1]) / gap[k] if gap[k] > 0 else math.inf}


def run_claim_intervals(curves: GapCurves, n_boot: int = 1000, seed: int = 0) -> Dict[str, tuple]:
    """C2a's and C3's statistics of one run, each as (value, low, high) with its 90%
    percentile-bootstrap interval over the evaluation images
    (:meth:`~diffgen_lib.measure.evaluation.GapCurves.image_interval`): ``rank``, the rank
    correlation of the peak gap with the training step over the snapshots, and ``end_ratio``, the
    last snapshot's gap at the ends of the sigma grid relative to its peak. The interval says how
    much the images that were evaluated move the statistic, not how much a training seed would."""
    def rank(train_error, val_error):
        gaps = metrics.relative_gap(val_error, train_error)
        return metrics.rank_correlation(curves.steps, summaries.peaks(curves.sigmas, gaps)["peak_gap"])

    def end(train_error, val_error):
        return summaries.end_ratio(metrics.relative_gap(val_error[-1], train_error[-1]))

    return {"rank": curves.image_interval(rank, n_boot=n_boot, seed=seed),
            "end_ratio": curves.image_interval(end, n_boot=n_boot, seed=seed)}


def seed_band(gaps) -> Dict[str, np.ndarray]:
    """Mean, smallest and largest of gap curves over training seeds, (S,) each, from (seeds, S)."""
    gaps = np.atleast_2d(np.asarray(gaps, dtype=np.float64))
    return {"mean": gaps.mean(0), "min": gaps.min(0), "max": gaps.max(0)}
