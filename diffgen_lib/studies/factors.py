"""The sweeps of what moves the generalization gap (claim C7): guidance, condition
granularity, receptive field. Each takes trained runs and measures them with
:mod:`diffgen_lib.measure`.

- Guidance: :mod:`diffgen_lib.studies.guidance`.
- Condition granularity: one run per number of k-means clusters K used as labels
  (:func:`kmeans_config`, K = 0 is the book's unconditional main run); :func:`kmeans_sweep`.
- Receptive field: :class:`~diffgen_lib.measure.windows.SlidingWindow` applies a trained denoiser to windows smaller than the
  image and averages the predictions of overlapping windows; :func:`window_sweep` measures the
  gap per window size.

Every sweep is cached on disk with :func:`cache.cached_result` (key: the runs' cache keys and
the settings; sources: this module and the modules whose code decides the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import cache, diffusion, features
from ..measure import evaluation, intervals, metrics
from ..measure.inference import sample_set
from ..measure.protocol import InferenceProtocol
from ..measure.windows import SlidingWindow
from ..networks import resolve_device
from ..runs import TrainConfig, TrainedRun, run_dir
from . import claims, experiments

Tensor = torch.Tensor
_SOURCES = cache.sources("studies/factors.py", "measure/metrics.py", "diffusion.py", "measure/evaluation.py",
                         "features.py", "measure/protocol.py", "measure/inference.py", "measure/windows.py")


# ----------------------------------------------------------------------------------------------
# Runs


def kmeans_config(k: int, **kwargs) -> TrainConfig:
    """The run with K k-means clusters as labels; K = 0 is the book's unconditional main run
    (``experiments.gap_run()``, so it shares that run's cache entry)."""
    if k < 0:
        raise ValueError(f"number of clusters must be >= 0, got {k}")
    return experiments.gap_run(**kwargs) if k == 0 else \
        experiments.gap_run(labels="kmeans", n_clusters=int(k), **kwargs)


@dataclass(frozen=True)
class FactorRuns:
    """The runs of the factors chapter: the main and class-conditional runs, the receptive-field
    run (the second-scale run), and the seed runs of the condition-granularity claims: per
    (K, seed) a k-means run (K = 0: the unconditional run), per seed a class-conditional and an
    unconditional run."""

    main: TrainConfig
    class_conditional: TrainConfig
    receptive_field: TrainConfig
    clusters: Dict[Tuple[int, int], TrainConfig]
    class_seeds: Dict[int, TrainConfig]
    unconditional_seeds: Dict[int, TrainConfig]

    def all(self) -> List[TrainConfig]:
        """Every config above, each once."""
        configs = [self.main, self.class_conditional, self.receptive_field, *self.clusters.values(),
                   *self.class_seeds.values(), *self.unconditional_seeds.values()]
        return [c for i, c in enumerate(configs) if c not in configs[:i]]


def factor_runs(params: Dict[str, Any]) -> FactorRuns:
    """The factors chapter's runs for its parameter values ``params`` (the run parameters,
    ``clusters``, ``seed`` and ``n_seeds``)."""
    common = experiments.run_kwargs(params, exclude=("channels", "seed"))
    channels, seeds = params["channels"], [params["seed"] + j for j in range(int(params["n_seeds"]))]
    return FactorRuns(
        main=experiments.gap_run(channels=channels, seed=params["seed"], **common),
        class_conditional=experiments.gap_run(channels=channels, labels="class", seed=params["seed"], **common),
        receptive_field=experiments.second_scale_run(params),
        clusters={(k, s): kmeans_config(k, channels=channels, seed=s, **common)
                  for k in params["clusters"] for s in seeds},
        class_seeds={s: experiments.gap_run(channels=channels, labels="class", seed=s, **common) for s in seeds},
        unconditional_seeds={s: experiments.gap_run(channels=channels, seed=s, **common) for s in seeds})


def eval_sigmas(low: float, high: float, every: int = 1) -> np.ndarray:
    """Every ``every``-th sigma of the book's 64-point grid within [low, high]."""
    grid = diffusion.log_sigma_grid().numpy()
    return grid[(grid >= low) & (grid <= high)][::every]


def last_peak(run: TrainedRun, n_eval: int = 200, all_snapshots: bool = False) -> Dict[str, float]:
    """Peak gap and its sigma at the run's last snapshot (:func:`evaluation.gap_curves`, cached).
    ``all_snapshots`` evaluates every snapshot, which shares the cache entry of a study that
    measures them all (the last snapshot's numbers are the same either way)."""
    curves = evaluation.gap_curves(run, n_eval, steps=None if all_snapshots else [run.config.max_steps])
    return curves.peak()


# ----------------------------------------------------------------------------------------------
# Sweeps (cached)


def kmeans_sweep(runs: Dict[int, TrainedRun], n_eval: int = 200, n_gen: int = 300, n_steps: int = 18,
                 n_ref: int = 150, n_subsets: int = 4, subset_seed: int = 0,
                 extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[int, dict]:
    """One run per K (``runs``: K -> the run of :func:`kmeans_config`): its gap curve at the last
    snapshot (64-sigma grid, via :func:`evaluation.gap_curves`) and the inference gap of n_gen
    samples whose labels follow the cluster prior of the val set (unconditional for K = 0);
    ``subset_seed`` draws the train subsets of the FD protocol; ``extra_features`` adds a
    pretrained network's feature space."""
    out = {}
    for k, run in runs.items():
        config = run.config
        # K = 0 is the main run: all snapshots, the training-gap chapter's cache entry; the
        # other runs only at their last snapshot (the same numbers for that snapshot).
        curves = evaluation.gap_curves(run, n_eval, steps=None if k == 0 else [config.max_steps])
        key = {"run": run.key, "n_gen": n_gen, "n_steps": n_steps, "n_ref": n_ref,
               "n_subsets": n_subsets, "seed": subset_seed}
        key = features.with_features_identity(key, extra_features)

        def compute(config=config, run=run):
            device = resolve_device(config.device)
            labels = None
            if config.conditional:  # cluster ids of the val images: the val set's prior
                labels = run.splits.val.labels[torch.arange(n_gen) % len(run.splits.val)]
            samples = sample_set(run.denoiser, n_gen, run.splits.image_shape, labels, n_steps, device)
            protocol = InferenceProtocol(run, n_ref, n_subsets, subset_seed, device, extra_features)
            row = protocol.table(samples)
            row["copy_fraction"] = metrics.copy_fraction(metrics.memorization_ratio(samples, run.splits.train.images))
            return row

        inf = cache.cached_result("factors-kmeans-inference", key, compute, _SOURCES)
        peak = curves.peak()
        out[int(k)] = {"sigmas": curves.sigmas, "gap": curves.gap[-1], "train_error": curves.train_error[-1],
                       "val_error": curves.val_error[-1], "peak_gap": peak["peak_gap"],
                       "peak_sigma": peak["peak_sigma"], **{n: float(v) for n, v in inf.items()}}
    return out


def window_sweep(run: TrainedRun, windows: Sequence[int], stride: Optional[int] = None, n_eval: int = 200,
                 sigmas: Optional[Sequence[float]] = None, progress: bool = True) -> Dict[str, np.ndarray]:
    """Denoising errors and gaps of the run's last snapshot applied through sliding windows of
    each size (a window as large as the image is the network itself). Returns ``{"windows",
    "sigmas", "train_error", "val_error", "gap" (n_windows, S), "train_errors", "val_errors"
    (n_windows, S, n_eval): every image's error}``."""
    sigmas = eval_sigmas(0.005, 20.0, 2) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    windows = [int(w) for w in windows]
    key = {"run": run.key, "windows": windows, "stride": stride, "n_eval": n_eval,
           "sigmas": [float(s) for s in sigmas]}

    def compute():
        from ..progress import progress_bar

        device = resolve_device(run.config.device)
        rows = [evaluation.denoising_gap(SlidingWindow(run.denoiser, w, stride), run, n_eval, sigmas, device, per_image=True)
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
    return (run_dir(config) / "run.pt").exists()


# ----------------------------------------------------------------------------------------------
# The factors chapter's claims with their positive controls (:mod:`claims`). The controls here are
# by construction: the same comparison between a setting and itself (no factor changes), whose
# statistic is exactly its no-effect value. They show that a criterion rejects no effect at all;
# how far the effect is from noise is the interval's business.


def c7_guidance(claim_id: str, what: str, index_rise, fd_rise, fd_gap: tuple, copies: str,
                weight: float) -> "claims.ClaimRecord":
    """C7a/C7b: guidance at weight w raises the memorization index (NN gap, pixels) and the
    absolute FD difference over w = 0 (paired per sample seed and reference draw). ``fd_gap``:
    the paper's relative FD gap at w = 0 and at w = ``weight`` (means), shown beside the claim. Control: guidance
    whose negative model is the positive one, D_w = D_pos + w (D_pos - D_pos) = D_pos: its samples
    are those of w = 0, so both rises are exactly 0."""
    n = int(np.asarray(index_rise).size)
    covers = f"{n} paired draws: sample seeds x reference draws"
    index = intervals.bootstrap(index_rise, covers=covers)
    fd = intervals.bootstrap(fd_rise, covers=covers)
    way = "falls" if fd_gap[1] < fd_gap[0] else "rises"
    note = (f"the paper's statistic, the relative FD gap (classifier), {way}: {fd_gap[0]:.3g} at w = 0, "
            f"{fd_gap[1]:.3g} at w = {weight:g}; copy fraction {copies}")
    zero = intervals.Estimate.exact(0.0, "by construction")
    return claims.claim(claim_id, [(f"{what}: rise of the memorization index (NN gap, pixels) over w = 0", index,
                                    claims.Criterion(">", 0.0)),
                                   ("rise of FD_val - FD_train (classifier)", fd, claims.Criterion(">", 0.0))],
                        {"guidance with D_neg = D_pos (no guidance signal)": [zero, zero]}, note=note)


def c7_setting(claim_id: str, statistic: str, estimate: intervals.Estimate, criterion: "claims.Criterion",
               no_effect: float, control: str) -> "claims.ClaimRecord":
    """C7c-f: a statistic comparing settings (clusters, labels, windows) against ``criterion``;
    control: the same comparison of a setting with itself, whose statistic is ``no_effect``."""
    return claims.claim(claim_id, [(statistic, estimate, criterion)],
                        {control: intervals.Estimate.exact(no_effect, "by construction")})
