"""The factors chapter's tables as rows (dicts of formatted cells)."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from ..measure import intervals
from ..measure.windows import SlidingWindow
from . import factors
from .factor_study import SeedPeaks, fmt_series
from .guidance import GuidanceCalibration
from .numbers import sig3

CALIBRATED_STATISTICS = (("nn_gap", "nearest-neighbour gap"), ("fd_gap", "FD gap (relative)"),
                         ("fd_diff", "FD_val - FD_train"))


def guidance_sweep_rows(guide: dict, kinds: Sequence[str], weights: Sequence[float]) -> List[dict]:
    """Per kind and weight (one sample set): the relative FD gap in both spaces, the FDs
    (classifier), the copy fraction and the peak training gap of D_w."""
    return [{"guidance": kind, "w": f"{w:g}", "FD gap, classifier": sig3(guide[kind]["classifier/gap"][i].item()),
             "FD gap, pixels": sig3(guide[kind]["pixels/gap"][i].item()),
             "FD val": sig3(guide[kind]["classifier/fd_val"][i].item()),
             "FD train": sig3(guide[kind]["classifier/fd_train"][i].item()),
             "copies": sig3(guide[kind]["copy_fraction"][i].item()),
             "peak training gap of D_w": sig3(guide[kind]["gap"][i].max().item())}
            for kind in kinds for i, w in enumerate(weights)]


def guidance_calibrated_rows(gcal: GuidanceCalibration, spaces: Sequence[str], kinds: Sequence[str],
                             calib_weights: Sequence[float]) -> List[dict]:
    """Per space and statistic: the null (and the exchanged null), the copier, the Gaussian (and its
    index), and the samples' memorization index at w = 0 and at each kind's other weights."""
    rows = []
    first = next(iter(kinds))
    for space in spaces:
        for stat, label in CALIBRATED_STATISTICS:
            key = f"{space}/{stat}"
            row = {"statistic": f"{label}, {space}", "null": intervals.bootstrap(gcal.null[key]).text(sig3),
                   "exchanged null": intervals.bootstrap(gcal.exchange[key]).text(sig3),
                   "copier": sig3(gcal.copier[key].mean()),
                   "Gaussian (index)": f"{sig3(gcal.gaussian[key].mean())} ({sig3(gcal.gaussian_index(key).mean())})"}
            for kind in kinds:
                for w in calib_weights:
                    if w == 0 and kind != first:
                        continue
                    row[f"index, {'w = 0' if w == 0 else kind + ' w = ' + format(w, 'g')}"] = \
                        intervals.bootstrap(gcal.index(kind, w, key)).text(sig3)
            rows.append(row)
    return rows


def guidance_training_rows(guide: dict, weights: Sequence[float], toy_peaks: np.ndarray) -> List[dict]:
    """Per weight: the toy model's peak gap and the guided network's (classifier-free, autoguidance)."""
    return [{"w": f"{w:g}", "toy peak gap": sig3(toy_peaks[i]),
             "D_w peak gap, classifier-free": sig3(guide["cfg"]["gap"][i].max().item()),
             "D_w peak gap, autoguidance": sig3(guide["auto"]["gap"][i].max().item())} for i, w in enumerate(weights)]


def _per_seed(gaps, sigmas) -> str:
    return ", ".join(f"{sig3(g)} ({sig3(x)})" for g, x in zip(gaps, sigmas))


def cluster_rows(ksweep: Dict[int, dict], clusters: Sequence[int], peaks: SeedPeaks, class_peak: dict) -> List[dict]:
    """Per K: the first seed's peak gap, inference gap, FD and copies, and every seed's peak gap
    (at sigma); then the class-conditional network."""
    rows = [{"labels": f"K = {k}", "peak gap": sig3(ksweep[k]["peak_gap"]), "at sigma": sig3(ksweep[k]["peak_sigma"]),
             "inference gap (classifier)": sig3(ksweep[k]["classifier/gap"]),
             "FD val": sig3(ksweep[k]["classifier/fd_val"]), "copies": sig3(ksweep[k]["copy_fraction"]),
             "per training seed: peak gap (sigma)": _per_seed(peaks.k_gaps[i], peaks.k_sigmas[i])}
            for i, k in enumerate(clusters)]
    rows.append({"labels": "10 digit classes", "peak gap": sig3(class_peak["peak_gap"]),
                 "at sigma": sig3(class_peak["peak_sigma"]), "inference gap (classifier)": "", "FD val": "", "copies": "",
                 "per training seed: peak gap (sigma)": _per_seed(peaks.class_gaps, peaks.class_sigmas)})
    return rows


def window_rows(win: np.ndarray, peaks: np.ndarray, peak_sigmas: np.ndarray, stride: Optional[int],
                image_size: int) -> List[dict]:
    """Per window size: the windows per image, the peak gap and its sigma."""
    return [{"window": f"{w}x{w}", "windows per image": SlidingWindow(None, int(w), stride).n_windows(image_size, image_size),
             "peak gap": sig3(peaks[i]), "at sigma": sig3(peak_sigmas[i])} for i, w in enumerate(win)]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], bold: int = -1) -> str:
    """A Markdown table; the cells of column ``bold`` in bold."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"**{c}**" if j == bold else str(c) for j, c in enumerate(r)) + " |" for r in rows]
    return "\n".join(lines)


def direction_and_values(xs, ys) -> tuple:
    """(direction, "x: y, ...") of a factor's row, or a note when its runs are not in the cache."""
    if ys is None:
        return "not measured", "runs not in the cache: execute the training-gap chapter first"
    return factors.direction(xs, ys), fmt_series(xs, ys)


def factor_row(factor: str, paper: str, xs, ys, where: str) -> tuple:
    """One row of the factors table: the factor, the paper's finding, the direction and values
    measured here (:func:`direction_and_values`) and the scale they were measured at."""
    return (factor, paper, *direction_and_values(xs, ys), where)
