"""The toy-model chapter's measurements: gap curves per model error, training-set density and
guidance weight with their peaks, the Monte-Carlo check of the noise draws, the samples on the
random circle and their distances to the training and validation points, and the statistics of
claims C6a-e for one noise seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

from .. import toy
from ..measure import metrics, summaries
from ..progress import progress_bar
from . import toy_analysis

Curves = Dict[float, np.ndarray]


def circle_angles(points: np.ndarray) -> np.ndarray:
    """Angle of each 2-D point on the circle, in [0, 2 pi)."""
    return np.arctan2(points[:, 1], points[:, 0]) % (2 * np.pi)


def probe_angles(train: np.ndarray, val: np.ndarray, n_grid: int = 721) -> np.ndarray:
    """Sorted probe angles: an even grid over the circle plus the angles of every training and
    validation point (so probes sit exactly at them)."""
    return np.sort(np.concatenate([np.linspace(0, 2 * np.pi, n_grid), circle_angles(train), circle_angles(val)]))


def peaks_of(sigmas: np.ndarray, curves: Dict) -> Dict:
    """:func:`summaries.peak` (peak gap and its sigma) of every curve, under the same keys."""
    return {k: summaries.peak(sigmas, c) for k, c in curves.items()}


def delta_curves(train: np.ndarray, val: np.ndarray, sigmas: np.ndarray, deltas: Sequence[float],
                 n_noise: int, seed: int = 0, desc: str | None = None) -> Curves:
    """The gap curve of every model error ``delta`` on the circle (train, val)."""
    deltas = progress_bar(deltas, desc=desc) if desc else deltas
    return {d: toy.gap_curve(train, val, sigmas, d, n_noise=n_noise, seed=seed) for d in deltas}


def density_curves(n_trains: Sequence[int], sigmas: np.ndarray, delta: float, n_noise: int, seed: int = 0,
                   desc: str | None = None) -> Dict[int, np.ndarray]:
    """The gap curve at model error ``delta`` for N training points (and N val points between
    them) on the symmetric circle, for every N in ``n_trains``."""
    n_trains = progress_bar(n_trains, desc=desc) if desc else n_trains
    return {n: toy.gap_curve(*toy.circle_data(2 * n), sigmas, delta, n_noise=n_noise, seed=seed) for n in n_trains}


def guided_curves(train: np.ndarray, val: np.ndarray, sigmas: np.ndarray, delta_pos: float, delta_neg: float,
                  weights: Sequence[float], n_noise: int, seed: int = 0, desc: str | None = None) -> Curves:
    """The gap curve of the model ``delta_pos`` autoguided by ``delta_neg`` for every weight."""
    weights = progress_bar(weights, desc=desc) if desc else weights
    return {w: toy.gap_curve(train, val, sigmas, delta_pos, n_noise=n_noise, seed=seed, guidance=w,
                             delta_neg=delta_neg) for w in weights}


def effective_deltas(guided_peaks: Dict, delta_pos: float, delta_neg: float, deltas: Sequence[float],
                     delta_peaks: Dict) -> Tuple[Dict[float, float], Dict[float, float]]:
    """Per guidance weight, the model error of an unguided model with the same identity weight at
    the guided peak (:func:`toy_analysis.effective_delta`) and the one with the same peak gap
    (:func:`toy_analysis.matched_delta` on the unguided peaks ``delta_peaks`` of ``deltas``)."""
    by_weight = {w: float(toy_analysis.effective_delta(p['peak_sigma'], delta_pos, delta_neg, w))
                 for w, p in guided_peaks.items()}
    unguided = [delta_peaks[d]['peak_gap'] for d in deltas]
    by_peak = {w: toy_analysis.matched_delta(p['peak_gap'], deltas, unguided) for w, p in guided_peaks.items()}
    return by_weight, by_peak


def end_gap(curve: np.ndarray) -> float:
    """The larger |gap| at the two ends of the sigma range."""
    return max(abs(curve[0]), abs(curve[-1]))


@dataclass
class MonteCarloCheck:
    """The peak gap at one model error with 50 noise draws shared by all points (``shared_peak``)
    and, per design ("paired", "independent" val draws), the peak for each of three seeds and the
    largest |gap| at the ends of the sigma range over them."""

    delta: float
    shared_peak: float
    peaks: Dict[str, list]
    ends: Dict[str, float]


def monte_carlo_check(train: np.ndarray, val: np.ndarray, sigmas: np.ndarray, delta: float, n_noise: int,
                      seed: int, paired_curve: np.ndarray | None = None) -> MonteCarloCheck:
    """The protocol's Monte-Carlo check at ``delta`` (seeds seed, seed + 1, seed + 2);
    ``paired_curve``: the paired curve of ``seed`` if already computed."""
    tt, vt = (torch.from_numpy(p) for p in (train, val))
    err = {name: toy._errors(pts, sigmas, tt, delta, toy.shared_local_noise(pts, 50, seed)).mean(1)
           for name, pts in (("train", tt), ("val", vt))}
    shared = summaries.peak(sigmas, (err["val"] - err["train"]) / err["train"])['peak_gap']
    peaks, ends = {}, {}
    for design, paired in (("paired", True), ("independent", False)):
        gs = [paired_curve if paired and s == seed and paired_curve is not None else
              toy.gap_curve(train, val, sigmas, delta, n_noise=n_noise, seed=s, paired=paired)
              for s in (seed, seed + 1, seed + 2)]
        peaks[design] = [summaries.peak(sigmas, g)['peak_gap'] for g in gs]
        ends[design] = max(end_gap(g) for g in gs)
    return MonteCarloCheck(delta, shared, peaks, ends)


def sample_endpoints(train: np.ndarray, deltas: Sequence[float], keep_paths: Sequence[float], n_gen: int,
                     n_steps: int, seed: int) -> Tuple[Dict[float, np.ndarray], Dict[float, np.ndarray]]:
    """Endpoints of ``n_gen`` toy-sampler trajectories per model error (``deltas``, sorted) and the
    whole trajectories of those in ``keep_paths``."""
    endpoints, paths = {}, {}
    for d in progress_bar(sorted(deltas), desc="sampling"):
        states, _ = toy.sample_trajectories(train, d, n_gen, n_steps=n_steps, seed=seed)
        endpoints[d] = states[-1]
        if d in keep_paths:
            paths[d] = states
    return endpoints, paths


@dataclass
class GeneratedDistances:
    """Per model error (arrays in the order of ``deltas``): Frechet distance of the generated
    points to the training and to the validation points, mean distance to the nearest of each,
    exact-recall fraction; ``fd_floor``: FD between the training and the validation points."""

    deltas: list
    fd_train: np.ndarray
    fd_val: np.ndarray
    fd_floor: float
    nn_train: np.ndarray
    nn_val: np.ndarray
    recall: np.ndarray


def generated_distances(endpoints: Dict[float, np.ndarray], deltas: Sequence[float], train: np.ndarray,
                        val: np.ndarray, recall_tol: float) -> GeneratedDistances:
    """How far the generated points of each model error lie from the training and validation points."""
    def nearest(points, reference):
        return metrics.nearest_neighbors(points, reference)[0][:, 0].mean()

    return GeneratedDistances(
        list(deltas),
        np.array([metrics.frechet_distance(endpoints[d], train) for d in deltas]),
        np.array([metrics.frechet_distance(endpoints[d], val) for d in deltas]),
        metrics.frechet_distance(train, val),
        np.array([nearest(endpoints[d], train) for d in deltas]),
        np.array([nearest(endpoints[d], val) for d in deltas]),
        np.array([toy_analysis.recall_fraction(endpoints[d], train, recall_tol) for d in deltas]))


def peak_rank_correlation(keys: Sequence, sigmas: np.ndarray, curves: Dict) -> float:
    """Rank correlation of the peak gap of ``curves[k]`` with ``k`` over ``keys``."""
    return metrics.rank_correlation(keys, [summaries.peak(sigmas, curves[k])['peak_gap'] for k in keys])


def claim_statistics(curves: Curves, density: Dict[int, np.ndarray], guided: Curves, sigmas: np.ndarray,
                     deltas: Sequence[float], n_trains: Sequence[int], weights: Sequence[float]) -> Dict[str, float]:
    """C6a-e's statistics from one seed's gap curves per model error, training-set size and
    guidance weight: the rank correlations of their peak gaps with delta, N and w, the largest
    end-to-peak ratio over the deltas and the worst factor between peak sigma and delta."""
    pk = {d: summaries.peak(sigmas, curves[d]) for d in deltas}
    return dict(
        rho_delta=metrics.rank_correlation(deltas, [pk[d]['peak_gap'] for d in deltas]),
        rho_density=peak_rank_correlation(n_trains, sigmas, density),
        rho_guidance=peak_rank_correlation(weights, sigmas, guided),
        end_ratio=max(end_gap(curves[d]) / pk[d]['peak_gap'] for d in deltas),
        peak_off=toy_analysis.worst_peak_ratio([pk[d]['peak_sigma'] for d in deltas], deltas))
