"""The factors chapter's measurements over training seeds: the peak training gap of every
condition-granularity run (:class:`SeedPeaks`), the intervals of the condition claims, the rises
of the guidance claims and the claim records with their controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from ..measure import evaluation, intervals, metrics
from ..measure.verdicts import verdict
from ..train import train
from . import claims, factors
from .factors import FactorRuns
from .guidance import GuidanceCalibration


@dataclass
class SeedPeaks:
    """Peak gap and its sigma at the last snapshot of every seed run: per K (K, seeds), the
    class-conditional runs and the unconditional runs (seeds,)."""

    k_gaps: np.ndarray
    k_sigmas: np.ndarray
    class_gaps: np.ndarray
    class_sigmas: np.ndarray
    uncond_gaps: np.ndarray

    @property
    def k_peak(self) -> np.ndarray:
        return self.k_gaps.mean(1)

    @property
    def k_sigma(self) -> np.ndarray:
        return self.k_sigmas.mean(1)


def seed_peaks(runs: FactorRuns, clusters: Sequence[int], seeds: Sequence[int], first_seed: int,
               n_eval: int) -> SeedPeaks:
    """:func:`factors.last_peak` of every seed run (K = 0, the first class-conditional seed and the
    unconditional runs at every snapshot, as the training-gap chapter evaluates them: the same
    cache entries)."""
    k_seed = {k: [factors.last_peak(train(runs.clusters[k, s]), n_eval, all_snapshots=k == 0) for s in seeds]
              for k in clusters}
    cls = [factors.last_peak(train(runs.class_seeds[s]), n_eval, all_snapshots=s == first_seed) for s in seeds]
    uncond = [factors.last_peak(train(runs.unconditional_seeds[s]), n_eval, all_snapshots=True)["peak_gap"]
              for s in seeds]
    return SeedPeaks(np.array([[p["peak_gap"] for p in k_seed[k]] for k in clusters]),
                     np.array([[p["peak_sigma"] for p in k_seed[k]] for k in clusters]),
                     np.array([p["peak_gap"] for p in cls]), np.array([p["peak_sigma"] for p in cls]),
                     np.array(uncond))


def condition_intervals(peaks: SeedPeaks, clusters: Sequence[int], n_seeds: int) -> Dict[str, intervals.Estimate]:
    """C7c: the rank correlation of the seed-mean peak gap with K; C7d: the peak's sigma at the
    largest K minus at the smallest; C7e: class-conditional minus unconditional peak gap; each over
    the training seeds (group-means bootstrap)."""
    covers = f"{n_seeds} training seeds per setting"
    Ks = np.asarray(clusters)
    return {"C7c": intervals.group_means_bootstrap(peaks.k_gaps, lambda m: round(metrics.rank_correlation(Ks, m), 9),
                                                   covers=covers),  # rounded: no float round-off
            "C7d": intervals.group_means_bootstrap([peaks.k_sigmas[-1], peaks.k_sigmas[0]], lambda m: m[0] - m[1],
                                                   covers=covers),
            "C7e": intervals.group_means_bootstrap([peaks.class_gaps, peaks.uncond_gaps], lambda m: m[0] - m[1],
                                                   covers=covers)}


def condition_verdicts(est: Dict[str, intervals.Estimate], cluster_rank: float) -> Dict[str, str]:
    """The verdicts of C7c-e against their thresholds."""
    return {"C7c": verdict(est["C7c"].lo, est["C7c"].hi, ">=", cluster_rank),
            "C7d": verdict(est["C7d"].lo, est["C7d"].hi, ">", 0.0),
            "C7e": verdict(est["C7e"].lo, est["C7e"].hi, ">", 0.0)}


def guidance_rises(gcal: GuidanceCalibration, kinds: Sequence[str], weight: float) -> Dict[str, Dict[str, np.ndarray]]:
    """Per kind, the per-draw rise from w = 0 to ``weight`` (the same sample seed and reference
    draw) of the memorization index (NN gap, pixels) and of FD_val - FD_train (classifier)."""
    return {k: {"index": gcal.index(k, weight, "pixels/nn_gap") - gcal.index(k, 0, "pixels/nn_gap"),
                "fd_diff": gcal.values(k, weight, "classifier/fd_diff") - gcal.values(k, 0, "classifier/fd_diff")}
            for k in kinds}


def fmt_series(xs, ys) -> str:
    """"x: y, ..." with y to 3 significant digits."""
    return ", ".join(f"{x:g}: {y:.3g}" for x, y in zip(xs, ys))


def guidance_records(gcal: GuidanceCalibration, kinds: Dict[str, str], weight: float,
                     calib_weights: Sequence[float], rises: Dict[str, Dict[str, np.ndarray]]) -> List["claims.ClaimRecord"]:
    """C7a (classifier-free) and C7b (autoguidance), with the paper's FD gap and the copy fractions beside."""
    records = []
    for cid, kind in (("C7a", "cfg"), ("C7b", "auto")):
        fd_gap = tuple(float(gcal.values(kind, w, "classifier/fd_gap").mean()) for w in (0, weight))
        copies = ", ".join(f"{gcal.values(kind, w, 'copy_fraction').mean():.3g} at w = {w:g}" for w in calib_weights)
        records.append(factors.c7_guidance(cid, f"{kinds[kind]}, w = {weight:g}", rises[kind]["index"].ravel(),
                                           rises[kind]["fd_diff"].ravel(), fd_gap, copies, weight))
    return records


def condition_records(peaks: SeedPeaks, clusters: Sequence[int], est: Dict[str, intervals.Estimate],
                      cluster_rank: float) -> List["claims.ClaimRecord"]:
    """C7c-e with their controls (a setting against itself)."""
    Ks, k_sigma = np.asarray(clusters), peaks.k_sigma
    uncond_peak = peaks.uncond_gaps.mean()
    return [
        factors.c7_setting("C7c", f"rank correlation of the seed-mean peak training gap with K "
                           f"({fmt_series(Ks, peaks.k_peak)})", est["C7c"],
                           claims.Criterion(">=", cluster_rank), 0.0, "the unconditional runs at every K"),
        factors.c7_setting("C7d", f"seed-mean sigma of the peak gap at K = {Ks[-1]} ({k_sigma[-1]:.3g}) minus at K = "
                           f"{Ks[0]} ({k_sigma[0]:.3g})", est["C7d"],
                           claims.Criterion(">", 0.0), 0.0, f"K = {Ks[0]} against itself"),
        factors.c7_setting("C7e", f"seed-mean peak gap class-conditional ({peaks.class_gaps.mean():.3g}) minus "
                           f"unconditional ({uncond_peak:.3g})", est["C7e"],
                           claims.Criterion(">", 0.0), 0.0, "the unconditional runs against themselves")]


def peaks_if_trained(configs, n_eval: int):
    """Peak gaps at the last snapshot, or None when a run is not in the cache (the factors chapter
    does not train the training-gap chapter's model-size and dataset-size runs itself)."""
    if not all(factors.cached_run_exists(c) for c in configs):
        return None
    return [evaluation.gap_curves(train(c), n_eval=n_eval).peak()["peak_gap"] for c in configs]
