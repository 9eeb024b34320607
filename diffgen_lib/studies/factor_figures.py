"""The factors chapter's figures: guidance (inference side and training side), condition
granularity (k-means clusters) and the receptive field (sliding windows). Each function draws one
figure with pyplot and returns it (the chapter shows it)."""

from __future__ import annotations

from typing import Dict, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..measure import intervals
from .factor_study import SeedPeaks
from .guidance import GuidanceCalibration

KIND_COLORS = ("tab:blue", "tab:orange")


def guidance_inference_figure(guide: dict, gcal: GuidanceCalibration, kinds: Sequence[str],
                              weights: Sequence[float], calib_weights: Sequence[float]) -> Figure:
    """Top: the uncalibrated sweep's relative FD gap (classifier solid, pixels dashed) and copy
    fraction against w. Bottom: the calibrated index (NN gap, pixels) and the raw FD difference
    (classifier) at the calibrated weights, mean and 90% interval, with null, copier and Gaussian."""
    W = np.asarray(weights)
    fig, axes = plt.subplots(2, 2, figsize=(7, 5.6))
    for kind, color in zip(kinds, KIND_COLORS):
        g = guide[kind]
        axes[0, 0].plot(W, g["classifier/gap"].numpy(), "o-", color=color, label=f"{kind}, classifier")
        axes[0, 0].plot(W, g["pixels/gap"].numpy(), "s--", color=color, alpha=0.7, label=f"{kind}, pixels")
        axes[0, 1].plot(W, g["copy_fraction"].numpy(), "o-", color=color, label=kind)
    axes[0, 0].axhline(0, color="0.6", lw=0.8)
    axes[0, 0].set(xlabel="guidance weight w", ylabel="relative FD gap")
    axes[0, 1].set(xlabel="guidance weight w", ylabel="copy fraction", ylim=(0, None))
    for panel, (stat, raw) in zip(axes[1], (("pixels/nn_gap", False), ("classifier/fd_diff", True))):
        for j, (kind, color) in enumerate(zip(kinds, KIND_COLORS)):
            vals = [gcal.values(kind, w, stat) if raw else gcal.index(kind, w, stat) for w in calib_weights]
            sm = [intervals.bootstrap(v) for v in vals]
            x = np.asarray(calib_weights) + (j - 0.5) * 0.08
            panel.errorbar(x, [v.mean for v in sm], yerr=[[v.mean - v.lo for v in sm], [v.hi - v.mean for v in sm]],
                           fmt="o-", color=color, capsize=3, label=kind)
        if raw:
            panel.axhline(gcal.null[stat].mean(), color="0.4", lw=1, label="null")
            panel.axhline(gcal.copier[stat].mean(), color="k", ls="--", lw=1, label="copier")
            panel.axhline(gcal.gaussian[stat].mean(), color="k", ls=":", lw=1.2, label="Gaussian")
            panel.set(xlabel="guidance weight w", ylabel="FD_val - FD_train (classifier)")
        else:
            panel.axhline(0, color="0.4", lw=1)
            panel.axhline(1, color="k", ls="--", lw=1)
            panel.axhline(gcal.gaussian_index(stat).mean(), color="k", ls=":", lw=1.2)
            panel.set(xlabel="guidance weight w", ylabel="index (NN gap, pixels)")
        panel.set_xticks(calib_weights)
    axes[0, 0].legend()
    axes[1, 1].legend()
    return fig


def guidance_training_figure(guide: dict, kinds: Sequence[str], weights: Sequence[float], toy_peaks: np.ndarray,
                             toy_delta_pos: float, toy_delta_neg: float) -> Figure:
    """Top: the relative gap of D_w against sigma per weight (classifier-free solid, autoguidance
    dashed). Bottom: its peak against w, and the toy model's peak gap under autoguidance."""
    W = np.asarray(weights)
    sigmas = guide["sigmas"].numpy()
    fig = plt.figure(figsize=(7, 5.6))
    grid = fig.add_gridspec(2, 2)
    axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    colors = plt.cm.viridis(np.linspace(0.1, 0.9, len(W)))
    for i, (w, c) in enumerate(zip(W, colors)):
        axes[0].semilogx(sigmas, guide["cfg"]["gap"][i].numpy(), color=c, label=f"w = {w:g}")
        axes[0].semilogx(sigmas, guide["auto"]["gap"][i].numpy(), "--", color=c)
    axes[0].set(xlabel="$\\sigma$", ylabel="relative gap of $D_w$")
    axes[0].legend(ncol=2)
    for kind, color in zip(kinds, KIND_COLORS):
        axes[1].plot(W, guide[kind]["gap"].numpy().max(1), "o-", color=color, label=kind)
    axes[1].set(xlabel="guidance weight w", ylabel="peak gap of $D_w$")
    axes[1].legend()
    axes[2].plot(W, toy_peaks, "o-", color="tab:green")
    axes[2].set(xlabel="autoguidance weight w", ylabel="toy peak gap",
                title=f"toy: $\\delta$ = {toy_delta_pos:g}, $\\delta_{{neg}}$ = {toy_delta_neg:g}")
    return fig


def clusters_gap_figure(ksweep: Dict[int, dict], clusters: Sequence[int], class_curves) -> Figure:
    """The relative gap against sigma at the last snapshot, one line per K, and the
    class-conditional network's (dashed)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = plt.cm.plasma(np.linspace(0.05, 0.85, len(clusters)))
    for k, c in zip(clusters, colors):
        ax.semilogx(ksweep[k]["sigmas"], ksweep[k]["gap"], color=c, label=f"K = {k}")
    ax.semilogx(class_curves.sigmas, class_curves.gap[-1], "k--", lw=1, label="10 digit classes")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(xlabel="$\\sigma$", ylabel="relative gap (val - train) / train")
    ax.legend(fontsize=8)
    return fig


def clusters_peaks_figure(ksweep: Dict[int, dict], clusters: Sequence[int], peaks: SeedPeaks) -> Figure:
    """Seed-mean peak gap and its sigma against K (bars: the seeds' range; dashed: the classes),
    and the first seed's inference gap against K."""
    Ks = np.asarray(clusters)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for panel, values in ((axes[0], peaks.k_gaps), (axes[1], peaks.k_sigmas)):
        mid = values.mean(1)
        panel.errorbar(Ks, mid, yerr=[mid - values.min(1), values.max(1) - mid], fmt="o-", capsize=3)
    axes[0].axhline(peaks.class_gaps.mean(), color="k", ls="--", lw=1)
    axes[0].set(xlabel="clusters K", ylabel="peak relative gap")
    axes[1].axhline(peaks.class_sigmas.mean(), color="k", ls="--", lw=1)
    axes[1].set(xlabel="clusters K", ylabel="$\\sigma$ of the peak", yscale="log")
    axes[2].plot(Ks, [ksweep[k]["classifier/gap"] for k in clusters], "o-", label="classifier")
    axes[2].plot(Ks, [ksweep[k]["pixels/gap"] for k in clusters], "s--", label="pixels")
    axes[2].axhline(0, color="0.6", lw=0.8)
    axes[2].set(xlabel="clusters K", ylabel="inference gap")
    axes[2].legend(fontsize=8)
    return fig


def window_figure(rf: Dict[str, np.ndarray], win: np.ndarray, peaks: np.ndarray) -> Figure:
    """The relative gap against sigma per window size, its peak against the window size, and the
    train (solid) and val (dashed) errors."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    colors = plt.cm.cividis(np.linspace(0.05, 0.9, len(win)))
    for i, (w, c) in enumerate(zip(win, colors)):
        axes[0].semilogx(rf["sigmas"], rf["gap"][i], color=c, label=f"{w}x{w}")
        axes[2].loglog(rf["sigmas"], rf["train_error"][i], color=c, label=f"{w}x{w}")
        axes[2].loglog(rf["sigmas"], rf["val_error"][i], "--", color=c)
    axes[0].axhline(0, color="0.6", lw=0.8)
    axes[0].set(xlabel="$\\sigma$", ylabel="relative gap (val - train) / train")
    axes[0].legend(fontsize=8, title="window")
    axes[1].plot(win, peaks, "o-")
    axes[1].set(xlabel="window size (pixels)", ylabel="peak relative gap")
    axes[2].set(xlabel="$\\sigma$", ylabel="denoising error (MSE)")
    return fig
