"""The training-gap chapter's tables as rows (dicts of formatted cells)."""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Sequence

import numpy as np

from ..measure import summaries
from ..measure.evaluation import GapCurves
from .numbers import mean_and_range, sig3, sig3_list
from .training_gap import Reconstructions, Spacing


def snapshot_rows(curves: GapCurves, peaks: Dict, sd: float) -> List[dict]:
    """Per snapshot: the peak gap, its sigma (also / sigma_data), both errors and the threshold there."""
    sig, rows = curves.sigmas, []
    for t, step in enumerate(curves.steps):
        k = peaks["index"][t]
        rows.append({"step": int(step), "peak gap": sig3(peaks["peak_gap"][t]), "at sigma": sig3(sig[k]),
                     "sigma / sigma_data": sig3(sig[k] / sd), "E_train": sig3(curves.train_error[t, k]),
                     "E_val": sig3(curves.val_error[t, k]), "threshold": sig3(curves.threshold[k])})
    return rows


def seed_rows(stats: Dict[str, Dict], seeds: Sequence[int]) -> List[dict]:
    """Per training seed (``stats``: :func:`gap_study.seed_statistics`): the last peak, where it
    lies, the ends relative to it and the rank correlation of the peak with the step."""
    c3, rho = stats["c3"], stats["rho"]
    return [{"training seed": s, "peak gap": sig3(c3[s]["peak"]), "at sigma": sig3(c3[s]["sigma"]),
             "grid point": c3[s]["index"], "gap at sigma_min / peak (abs.)": sig3(c3[s]["low_end"]),
             "gap at sigma_max / peak (abs.)": sig3(c3[s]["high_end"]), "rank correlation": sig3(rho[s])}
            for s in seeds]


def weights_rows(stats: Mapping[str, Dict], seeds: Sequence[int]) -> List[dict]:
    """Per kind of weights (``stats[name]``: :func:`gap_study.seed_statistics`): the peak gap,
    its sigma and the end ratio as mean (range) over the seeds, and the mean rank correlation."""
    rows = []
    for name, st in stats.items():
        pg, ps, er = ([st["c3"][s][k] for s in seeds] for k in ("peak", "sigma", "end_ratio"))
        rows.append({"weights": name, "peak gap": mean_and_range(pg), "peak sigma": mean_and_range(ps),
                     "end ratio": mean_and_range(er), "rank correlation": sig3(np.mean([st["rho"][s] for s in seeds]))})
    return rows


def optimal_rows(curves: GapCurves, optimal: GapCurves, sigmas: Sequence[float]) -> List[dict]:
    """At the grid points nearest to ``sigmas`` (ascending): the last snapshot's and the optimal
    denoiser's errors and gaps."""
    sig, opt_tr, opt_va, rows = curves.sigmas, optimal.train_error[0], optimal.val_error[0], []
    for s in sorted(set(sigmas)):
        j = summaries.nearest_index(sig, s)
        rows.append({"sigma": sig3(sig[j]), "network, train": sig3(curves.train_error[-1, j]),
                     "network, val": sig3(curves.val_error[-1, j]), "optimal, train": sig3(opt_tr[j], roundoff=True),
                     "optimal, val": sig3(opt_va[j]), "network gap": sig3(curves.gap[-1, j]),
                     "optimal gap": sig3(optimal.gap[0, j]) if opt_tr[j] > 1e-12 else "inf"})
    return rows


def reconstruction_rows(recon: Reconstructions, recon_opt: Reconstructions, name: str = "optimal") -> List[dict]:
    """Per snapshot, then for ``recon_opt``'s denoiser ``name``: the reconstructions' distances
    to their own image and to the nearest (other) training image."""
    rows = [{"denoiser": f"step {r}", "train -> own": sig3(recon.train_own[r]), "train -> other": sig3(recon.train_nn[r]),
             "val -> own": sig3(recon.val_own[r]), "val -> train": sig3(recon.val_nn[r])} for r in recon.steps]
    return rows + [{"denoiser": name, "train -> own": sig3(recon_opt.train_own[name], roundoff=True),
                    "train -> other": sig3(recon_opt.train_nn[name]), "val -> own": sig3(recon_opt.val_own[name]),
                    "val -> train": sig3(recon_opt.val_nn[name], roundoff=True)}]


def spacing_rows(sp: Spacing, peak_sigma: float) -> List[dict]:
    """The spacing of the training images, the resolve level and the peak's sigma."""
    sd = sp.sigma_data
    return [{"D": sp.dim, "N": sp.n_train, "sigma_data": sig3(sd),
             "NN distance train-train": f"{sig3(sp.train_nn)} ({sig3(sp.per_pixel)} per pixel)",
             "NN distance val-train": f"{sig3(sp.val_nn)} ({sig3(sp.val_per_pixel)} per pixel)",
             "resolve sigma": sig3(sp.resolve_sigma), "peak sigma": f"{sig3(peak_sigma)} ({sig3(peak_sigma / sd)} sigma_data)"}]


def width_seed_rows(peaks: Dict[tuple, Dict], narrow: int, wide: int, seeds: Sequence[int]) -> List[dict]:
    """Per training seed: the last peak gap of the narrowest and the widest network and their ratio."""
    rows = []
    for s in seeds:
        lo, hi = peaks[(narrow, s)]["peak_gap"][-1], peaks[(wide, s)]["peak_gap"][-1]
        rows.append({"training seed": s, f"width {narrow}": sig3(lo), f"width {wide}": sig3(hi), "ratio": sig3(hi / lo)})
    return rows


def comparison_rows(curve_sets: Mapping, peak_sets: Mapping, name_of: Callable[[object], str]) -> List[dict]:
    """Per run: every snapshot's peak gap, the last peak's sigma, the evaluation images."""
    return [{"run": name_of(k), "peak gap by snapshot": sig3_list(peak_sets[k]["peak_gap"]),
             "peak sigma (last)": sig3(peak_sets[k]["peak_sigma"][-1]), "evaluation images": f"{c.n_eval} + {c.n_eval}"}
            for k, c in curve_sets.items()]


def scale_rows(scale_runs: Mapping[str, tuple], spacings: Mapping[str, Spacing], peaks: Mapping) -> List[dict]:
    """Per run of either scale: dimension, size, steps, epochs, the peak per snapshot, and the last
    peak and the resolve level relative to sigma_data."""
    return [{"run": name, "D": spacings[name].dim, "N": r.config.n_train, "steps": r.config.max_steps,
             "epochs": f"{r.config.max_steps * r.config.batch_size / r.config.n_train:.0f}",
             "peak gap by snapshot": sig3_list(peaks[name]["peak_gap"]),
             "peak sigma / sigma_data": sig3(c.peak()["peak_sigma"] / r.sigma_data),
             "resolve / sigma_data": sig3(spacings[name].resolve_sigma / r.sigma_data)}
            for name, (r, c) in scale_runs.items()]


def end_rows(curves: GapCurves, indices: Sequence[int]) -> List[dict]:
    """At the sigma grid points ``indices``: both last errors relative to sigma^2, the gap, and
    the gap of every snapshot."""
    sig = curves.sigmas
    return [{"sigma": sig3(sig[j]), "E_train / sigma^2": sig3(curves.train_error[-1, j] / sig[j] ** 2),
             "E_val / sigma^2": sig3(curves.val_error[-1, j] / sig[j] ** 2), "gap": sig3(curves.gap[-1, j]),
             "gap by snapshot": sig3_list(curves.gap[:, j])} for j in indices]


def control_rows(records: Mapping[str, list], scale_names: Mapping[str, str]) -> List[dict]:
    """Each claim record's rows beside its positive controls, with the scale (``scale_names[key]``)
    and the claim's id."""
    return [{"scale": scale_names[which], "claim": r.id, **row}
            for which, rs in records.items() for r in rs for row in r.control_rows()]
