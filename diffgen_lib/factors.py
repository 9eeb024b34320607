"""What moves the generalization gap (claim C7): guidance, condition granularity, receptive field.

- Guidance (the paper's measurement): D_w = D_pos + w (D_pos - D_neg) (:func:`diffusion.guided`)
  on a class-conditional network; classifier-free guidance takes D_neg = the same network with the
  NULL label, autoguidance an earlier (less-trained) snapshot of the same network with the same labels.
  :func:`guidance_sweep` measures, per kind and weight, the inference gap (FD protocol), the
  fraction of copies among the samples and the training-objective gap of D_w.
- Condition granularity: one run per number of k-means clusters K used as labels
  (:func:`kmeans_config`, K = 0 is the book's unconditional main run); :func:`kmeans_sweep`.
- Receptive field: :class:`SlidingWindow` applies a trained denoiser to windows smaller than the
  image and averages the predictions of overlapping windows; :func:`window_sweep` measures the
  gap per window size.

Every sweep is cached on disk with :func:`cache.cached_result` (key: the runs' cache keys and
the settings; sources: this module and the modules whose code decides the numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from . import cache, diffusion, evaluation, experiments, features, metrics
from .networks import resolve_device
from .train import TrainConfig, TrainedRun, run_key, train

Tensor = torch.Tensor
_LIB = Path(__file__).resolve().parent
_SOURCES = [_LIB / name for name in ("factors.py", "metrics.py", "diffusion.py", "evaluation.py",
                                     "features.py")]
GUIDANCE_KINDS = ("cfg", "auto")
SAMPLE_SEED = 1_000_000  # generated sample i starts from per-sample noise seeded SAMPLE_SEED + i
SAMPLE_BATCH = 500       # images per sampler batch of the guided and cluster sample sets


# ----------------------------------------------------------------------------------------------
# Sliding-window denoiser


def window_starts(size: int, window: int, stride: int) -> List[int]:
    """Start offsets of windows of length ``window`` covering [0, size) with step ``stride``;
    the last window ends exactly at ``size``."""
    if not 1 <= window <= size:
        raise ValueError(f"window must be in [1, {size}], got {window}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


class SlidingWindow:
    """A denoiser whose receptive field is at most ``window`` x ``window`` pixels.

    The wrapped denoiser D(x; sigma[, labels]) is applied to every window (the windows of
    :func:`window_starts` in both directions, default stride window // 2) as if it were a whole
    image, and each output pixel is the mean of the predictions of the windows that contain it.
    A window as large as the image gives D itself.
    """

    def __init__(self, denoiser: Callable, window: int, stride: Optional[int] = None):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.denoiser, self.window = denoiser, int(window)
        self.stride = int(stride) if stride is not None else max(1, self.window // 2)

    def n_windows(self, height: int, width: int) -> int:
        w = min(self.window, height), min(self.window, width)
        return len(window_starts(height, w[0], self.stride)) * len(window_starts(width, w[1], self.stride))

    def __call__(self, x: Tensor, sigma: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        n, c, h, w = x.shape
        wh, ww = min(self.window, h), min(self.window, w)
        rows, cols = window_starts(h, wh, self.stride), window_starts(w, ww, self.stride)
        # All windows of all images in one batch: (n * n_windows, c, wh, ww).
        patches = torch.stack([x[:, :, r:r + wh, q:q + ww] for r in rows for q in cols], 1)
        k = patches.shape[1]
        flat = patches.reshape(n * k, c, wh, ww)
        sig = sigma.repeat_interleave(k)
        lab = None if labels is None else labels.repeat_interleave(k)
        pred = (self.denoiser(flat, sig) if lab is None else self.denoiser(flat, sig, lab)).reshape(n, k, c, wh, ww)
        out = torch.zeros_like(x)
        count = torch.zeros((1, 1, h, w), dtype=x.dtype, device=x.device)
        i = 0
        for r in rows:
            for q in cols:
                out[:, :, r:r + wh, q:q + ww] += pred[:, i]
                count[:, :, r:r + wh, q:q + ww] += 1
                i += 1
        return out / count


# ----------------------------------------------------------------------------------------------
# Runs, samples and the inference-gap protocol


def kmeans_config(k: int, **kwargs) -> TrainConfig:
    """The run with K k-means clusters as labels; K = 0 is the book's unconditional main run
    (``experiments.gap_run()``, so it shares that run's cache entry)."""
    if k < 0:
        raise ValueError(f"number of clusters must be >= 0, got {k}")
    return experiments.gap_run(**kwargs) if k == 0 else \
        experiments.gap_run(labels="kmeans", n_clusters=int(k), **kwargs)


def sample_set(denoise: Callable, n: int, shape, labels: Optional[Tensor], n_steps: int = 18, device="cpu",
               seed_base: int = SAMPLE_SEED) -> Tensor:
    """n samples of :func:`diffusion.generate` (batches of :data:`SAMPLE_BATCH`): sample i starts
    from noise seeded ``seed_base + i`` and uses ``labels[i]`` (None: unconditional)."""
    return diffusion.generate(denoise, range(seed_base, seed_base + n), shape, n_steps, device,
                              batch_size=SAMPLE_BATCH, labels=labels)


class InferenceProtocol:
    """FD(gen, val) against FD(gen, train_k) (the paper's protocol, uncalibrated) with fixed
    references: the first ``n_ref`` val images and ``n_subsets`` train subsets of the same size and
    class counts (the dataset's class labels; plain random subsets when a class is too rare in the
    training set), in the spaces of :func:`features.feature_spaces`. The calibrated statistics of
    the same samples: :mod:`calibration`."""

    def __init__(self, config: TrainConfig, n_ref: int, n_subsets: int, seed: int = 0, device="cpu",
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


def _gap_table(gaps: Dict[str, metrics.InferenceGap]) -> Dict[str, float]:
    out = {}
    for name, g in gaps.items():
        for field in ("fd_val", "fd_train", "gap", "fd_train_vs_val", "fd_train_vs_train"):
            out[f"{name}/{field}"] = float(getattr(g, field))
    return out


def eval_sigmas(low: float, high: float, every: int = 1) -> np.ndarray:
    """Every ``every``-th sigma of the book's 64-point grid within [low, high]."""
    grid = diffusion.log_sigma_grid().numpy()
    return grid[(grid >= low) & (grid <= high)][::every]


def denoising_gap(denoise: Callable, run: TrainedRun, n_eval: int, sigmas, device,
                  per_image: bool = False) -> Dict[str, np.ndarray]:
    """Mean train and val denoising errors of any denoiser on the run's fixed evaluation images
    (same images and noise as :func:`evaluation.gap_curves`), and the relative gap; with
    ``per_image`` also the errors of every image, ``train_errors`` and ``val_errors`` (S, n)."""
    tr_all, va_all = evaluation.train_val_errors(denoise, evaluation.evaluation_sets(run, n_eval), sigmas,
                                                 device=device)
    tr, va = tr_all.mean(1), va_all.mean(1)
    out = {"train_error": tr, "val_error": va, "gap": metrics.relative_gap(va, tr)}
    if per_image:
        out.update(train_errors=tr_all, val_errors=va_all)
    return out


def peak_ratio_interval(train_errors: np.ndarray, val_errors: np.ndarray, num: int, den: int,
                        level: float = 0.9, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Ratio of the peak relative gaps of two denoisers evaluated on the same images (rows ``num``
    and ``den`` of per-image errors (D, S, n), e.g. two window sizes) and its percentile-bootstrap
    interval over the evaluation images: each bootstrap sample redraws the train and the val
    images with replacement (the same images for both denoisers)."""
    tr, va = np.asarray(train_errors, np.float64), np.asarray(val_errors, np.float64)

    def ratio(i_tr, i_va):
        t, v = tr[..., i_tr].mean(-1), va[..., i_va].mean(-1)  # (D, S)
        peaks = np.nanmax(metrics.relative_gap(v, t), axis=-1)
        return peaks[num] / peaks[den]

    rng = np.random.default_rng(seed)
    n_tr, n_va = tr.shape[-1], va.shape[-1]
    values = np.array([ratio(rng.integers(0, n_tr, n_tr), rng.integers(0, n_va, n_va)) for _ in range(n_boot)])
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(ratio(np.arange(n_tr), np.arange(n_va))), float(lo), float(hi)


def last_peak(config: TrainConfig, n_eval: int = 200, all_snapshots: bool = False,
              progress: bool = True) -> Dict[str, float]:
    """Peak gap and its sigma at the run's last snapshot (:func:`evaluation.gap_curves`, cached).
    ``all_snapshots`` evaluates every snapshot, which shares the cache entry of a chapter that
    measures them all (the last snapshot's numbers are the same either way)."""
    curves = evaluation.gap_curves(config, n_eval, steps=None if all_snapshots else [config.max_steps],
                                   progress=progress)
    return curves.peak()


# ----------------------------------------------------------------------------------------------
# Sweeps (cached)


def guidance_sweep(config: TrainConfig, weights: Sequence[float], negative_step: int, n_gen: int = 300,
                   n_steps: int = 18, n_ref: int = 150, n_subsets: int = 4, n_eval: int = 200,
                   sigmas: Optional[Sequence[float]] = None, seed: int = 0, progress: bool = True,
                   extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[str, dict]:
    """Guidance on a class-conditional run (trained with label dropout), for each kind in
    :data:`GUIDANCE_KINDS` and each weight: inference gap (pixels and classifier features, and
    ``extra_features`` when given), copy fraction and memorization ratios of the samples,
    training-objective gap of D_w.

    Returns ``{kind: {"weights", "gap/<space>", "fd_val/<space>", ..., "copy_fraction",
    "ratios" (W, n_gen), "train_error", "val_error", "train_gap" (W, S)}, "sigmas": ...}``.
    """
    if not config.conditional or config.label_dropout <= 0:
        raise ValueError("guidance needs a conditional run trained with label dropout")
    sigmas = eval_sigmas(0.01, 10.0, 2) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    weights = [float(w) for w in weights]
    key = {"run": run_key(config), "weights": weights, "negative_step": int(negative_step),
           "n_gen": n_gen, "n_steps": n_steps, "n_ref": n_ref, "n_subsets": n_subsets,
           "n_eval": n_eval, "sigmas": [float(s) for s in sigmas], "seed": seed}
    key = features.with_features_identity(key, extra_features)

    def compute():
        from .progress import progress_bar

        run = train(config, progress=progress)
        if negative_step not in run.snapshots:
            raise ValueError(f"no snapshot at step {negative_step}; the run has {sorted(run.snapshots)}")
        device = resolve_device(config.device)
        pos, early = run.denoiser, run.snapshots[negative_step]
        protocol = InferenceProtocol(config, n_ref, n_subsets, seed, device, extra_features)
        labels = features.class_splits(config).val.labels
        gen_labels = labels[torch.arange(n_gen) % len(labels)]  # the val set's class prior
        result: Dict[str, dict] = {"sigmas": torch.from_numpy(sigmas)}
        jobs = [(kind, w) for kind in GUIDANCE_KINDS for w in weights]
        rows: Dict[str, List[dict]] = {k: [] for k in GUIDANCE_KINDS}
        for kind, w in progress_bar(jobs, desc="guidance", disable=not progress):
            if w == 0 and kind != GUIDANCE_KINDS[0] and 0.0 in weights:  # D_0 = D_pos for every kind
                rows[kind].append(rows[GUIDANCE_KINDS[0]][weights.index(0.0)])
                continue
            den = diffusion.guided(pos, pos if kind == "cfg" else early, w, null_negative=kind == "cfg")
            samples = sample_set(den, n_gen, run.splits.image_shape, gen_labels, n_steps, device)
            ratios = metrics.memorization_ratio(samples, run.splits.train.images)
            row = _gap_table(protocol(samples))
            row["copy_fraction"] = metrics.copy_fraction(ratios)
            row["ratios"] = ratios
            row.update(denoising_gap(den, run, n_eval, sigmas, device))
            rows[kind].append(row)
        for kind, rs in rows.items():
            result[kind] = {"weights": torch.tensor(weights, dtype=torch.float64)}
            for field in rs[0]:
                result[kind][field] = torch.from_numpy(np.stack([np.asarray(r[field], dtype=np.float64)
                                                                 for r in rs]))
        return result

    return cache.cached_result("factors-guidance", key, compute, _SOURCES)


def kmeans_sweep(ks: Sequence[int], n_eval: int = 200, n_gen: int = 300, n_steps: int = 18,
                 n_ref: int = 150, n_subsets: int = 4, subset_seed: int = 0, progress: bool = True,
                 extra_features: Optional[features.PretrainedFeatures] = None, **run_kwargs) -> Dict[int, dict]:
    """One run per K (:func:`kmeans_config`, ``run_kwargs`` go to it): its gap curve at the last
    snapshot (64-sigma grid, via :func:`evaluation.gap_curves`) and the inference gap of n_gen
    samples whose labels follow the cluster prior of the val set (unconditional for K = 0);
    ``subset_seed`` draws the train subsets of the FD protocol; ``extra_features`` adds a
    pretrained network's feature space."""
    out = {}
    for k in ks:
        config = kmeans_config(int(k), **run_kwargs)
        # K = 0 is the main run: all snapshots, the training-gap chapter's cache entry; the
        # other runs only at their last snapshot (the same numbers for that snapshot).
        curves = evaluation.gap_curves(config, n_eval, steps=None if k == 0 else [config.max_steps],
                                       progress=progress)
        key = {"run": run_key(config), "n_gen": n_gen, "n_steps": n_steps, "n_ref": n_ref,
               "n_subsets": n_subsets, "seed": subset_seed}
        key = features.with_features_identity(key, extra_features)

        def compute(config=config):
            run = train(config, progress=progress)
            device = resolve_device(config.device)
            labels = None
            if config.conditional:  # cluster ids of the val images: the val set's prior
                labels = run.splits.val.labels[torch.arange(n_gen) % len(run.splits.val)]
            samples = sample_set(run.denoiser, n_gen, run.splits.image_shape, labels, n_steps, device)
            protocol = InferenceProtocol(config, n_ref, n_subsets, subset_seed, device, extra_features)
            row = _gap_table(protocol(samples))
            row["copy_fraction"] = metrics.copy_fraction(metrics.memorization_ratio(samples, run.splits.train.images))
            return row

        inf = cache.cached_result("factors-kmeans-inference", key, compute, _SOURCES)
        peak = curves.peak()
        out[int(k)] = {"sigmas": curves.sigmas, "gap": curves.gap[-1], "train_error": curves.train_error[-1],
                       "val_error": curves.val_error[-1], "peak_gap": peak["peak_gap"],
                       "peak_sigma": peak["peak_sigma"], **{n: float(v) for n, v in inf.items()}}
    return out


def window_sweep(config: TrainConfig, windows: Sequence[int], stride: Optional[int] = None, n_eval: int = 200,
                 sigmas: Optional[Sequence[float]] = None, progress: bool = True) -> Dict[str, np.ndarray]:
    """Denoising errors and gaps of the run's last snapshot applied through sliding windows of
    each size (a window as large as the image is the network itself). Returns ``{"windows",
    "sigmas", "train_error", "val_error", "gap" (n_windows, S), "train_errors", "val_errors"
    (n_windows, S, n_eval): every image's error}``."""
    sigmas = eval_sigmas(0.005, 20.0, 2) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    windows = [int(w) for w in windows]
    key = {"run": run_key(config), "windows": windows, "stride": stride, "n_eval": n_eval,
           "sigmas": [float(s) for s in sigmas]}

    def compute():
        from .progress import progress_bar

        run = train(config, progress=progress)
        device = resolve_device(config.device)
        rows = [denoising_gap(SlidingWindow(run.denoiser, w, stride), run, n_eval, sigmas, device, per_image=True)
                for w in progress_bar(windows, desc="windows", disable=not progress)]
        return {"windows": torch.tensor(windows), "sigmas": torch.from_numpy(sigmas),
                **{f: torch.from_numpy(np.stack([r[f] for r in rows])) for f in rows[0]}}

    r = cache.cached_result("factors-windows", key, compute, _SOURCES)
    return {k: v.numpy() for k, v in r.items()}


# ----------------------------------------------------------------------------------------------
# Summaries


def direction(xs: Sequence[float], ys: Sequence[float], tol: float = 0.5) -> str:
    """"up", "down" or "flat": the sign of the Spearman rank correlation of ys with xs, "flat"
    when its magnitude is below ``tol``."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need two sequences of equal length >= 2")
    ys = np.asarray(ys, dtype=np.float64)
    if np.all(ys == ys[0]):
        return "flat"
    rho = metrics.rank_correlation(xs, ys)
    return "up" if rho >= tol else "down" if rho <= -tol else "flat"


def cached_run_exists(config: TrainConfig) -> bool:
    """Whether the finished run of ``config`` is in the cache (loading it costs no training)."""
    from .train import run_dir

    return (run_dir(config) / "run.pt").exists()
