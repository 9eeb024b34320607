"""The toy-model chapter's tables as rows (dicts of formatted cells), and the Monte-Carlo check's
values that the chapter's prose quotes."""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from .numbers import sig3
from .toy_study import GeneratedDistances, MonteCarloCheck, circle_angles


def angle_rows(angles: np.ndarray, gaps: Dict[float, np.ndarray], train: np.ndarray) -> List[dict]:
    """Per model error: the largest |gap| at the probes on training points and the largest gap anywhere."""
    at_train = np.isin(angles, circle_angles(train))
    return [{"delta": f"{d:g}", "largest |gap| at the training points": sig3(np.abs(g[at_train]).max(), roundoff=True),
             "largest gap on the circle": sig3(g.max(), roundoff=True)} for d, g in gaps.items()]


def delta_rows(curves: Dict[float, np.ndarray], peaks: Dict) -> List[dict]:
    """Per model error: the peak gap, its sigma and the gap at the two ends of the sigma range."""
    return [{"delta": f"{d:.3g}", "peak gap": f"{peaks[d]['peak_gap']:.3g}", "at sigma": f"{peaks[d]['peak_sigma']:.3g}",
             "gap at sigma_max": sig3(c[0], roundoff=True), "gap at sigma_min": sig3(c[-1], roundoff=True)}
            for d, c in curves.items()]


def monte_carlo_rows(mc: MonteCarloCheck, n_noise: int) -> List[dict]:
    """The shared-draws peak, then per design the per-seed peaks, their spread and the end |gap|."""
    return ([{"noise draws": "50 shared by all points", "peak gap (per seed)": sig3(mc.shared_peak), "spread": "",
              "end |gap| up to": ""}]
            + [{"noise draws": f"{n_noise} per point, {design} val draws",
                "peak gap (per seed)": ", ".join(sig3(p) for p in peaks), "spread": sig3(max(peaks) - min(peaks)),
                "end |gap| up to": sig3(mc.ends[design], roundoff=True)} for design, peaks in mc.peaks.items()])


def monte_carlo_values(mc: MonteCarloCheck) -> Dict[str, object]:
    """The check's numbers under the names the chapter's prose glues them by."""
    paired, indep = mc.peaks["paired"], mc.peaks["independent"]
    return {"mc_delta": mc.delta, "mc_old_peak": sig3(mc.shared_peak), "mc_new_peak": sig3(paired[0]),
            "mc_spread_paired": sig3(max(paired) - min(paired)), "mc_spread_indep": sig3(max(indep) - min(indep)),
            "mc_indep_end": sig3(mc.ends["independent"]),
            "mc_indep_end_ratio": sig3(mc.ends["independent"] / np.mean(indep))}


def density_rows(peaks: Dict[int, dict]) -> List[dict]:
    """Per number of training points: the peak gap and its sigma."""
    return [{"N train": n, "peak gap": f"{p['peak_gap']:.3g}", "at sigma": f"{p['peak_sigma']:.3g}"}
            for n, p in peaks.items()]


def guidance_rows(peaks: Dict[float, dict], delta_by_weight: Dict, delta_by_peak: Dict) -> List[dict]:
    """Per guidance weight: the peak gap, its sigma and the two effective model errors."""
    return [{"w": f"{w:.3g}", "peak gap": f"{p['peak_gap']:.3g}", "at sigma": f"{p['peak_sigma']:.3g}",
             "effective delta (same weight)": f"{delta_by_weight[w]:.3g}",
             "effective delta (same peak)": f"{delta_by_peak[w]:.3g}"} for w, p in peaks.items()]


def generated_rows(dist: GeneratedDistances) -> List[dict]:
    """Per model error: FD to train and val, mean nearest-neighbour distances, exact-recall fraction."""
    return [{"delta": f"{d:.3g}", "FD gen-train": f"{dist.fd_train[k]:.3g}", "FD gen-val": f"{dist.fd_val[k]:.3g}",
             "NN train": sig3(dist.nn_train[k], roundoff=True), "NN val": f"{dist.nn_val[k]:.3g}",
             "exact recalls": f"{dist.recall[k]:.3g}"} for k, d in enumerate(dist.deltas)]

