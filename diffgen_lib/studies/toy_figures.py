"""The toy-model chapter's figures: flow fields per regime, the gap along the circle and against
sigma, denser data, autoguidance, the sampler's trajectories and the distances of the generated
points. Each function draws one figure with pyplot and returns it (the chapter shows it)."""

from __future__ import annotations

from typing import Dict, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import explorer, toy_analysis
from .toy_study import GeneratedDistances, circle_angles


def regime_flows_figure(train: np.ndarray, val: np.ndarray, flows: Dict, deltas: Sequence[float],
                        sigmas: Sequence[float]) -> Figure:
    """Flow fields ``flows[(delta, sigma)]``: one row per delta, one column per sigma, one colour bar."""
    fig, axes = plt.subplots(2, len(sigmas), figsize=(7, 5.4))
    axes = np.asarray(axes).reshape(2, -1)
    for r, d in enumerate(deltas):
        for c, s in enumerate(sigmas):
            stream = explorer.draw_flow(axes[r, c], train, s, d, val=val, field=flows[(d, s)], density=0.9)
    fig.colorbar(stream.lines, ax=axes, shrink=0.6, label="log10 of the length of $y_\\delta - x$")
    return fig


def gap_angle_figure(angles: np.ndarray, gaps: Dict[float, np.ndarray], train: np.ndarray, val: np.ndarray,
                     sigma: float) -> Figure:
    """The gap of a probe against its angle on the circle, one line per model error; dotted
    lines at the training (black) and validation (red) points."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for d, g in gaps.items():
        ax.plot(np.degrees(angles), g, lw=1.4, label=f"$\\delta$ = {d:g}")
    for points, color in ((train, "k"), (val, "tab:red")):
        for a in np.degrees(circle_angles(points)):
            ax.axvline(a, color=color, ls=":", lw=0.7)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(-0.02, 30 * max(g[np.isfinite(g)].max() for g in gaps.values()))  # room for the legend
    ax.set(xlabel="angle on the circle (degrees)", ylabel="(E(angle) - E_train) / E_train", xlim=(0, 360),
           title=f"$\\sigma$ = {sigma:g}")
    ax.legend(ncol=len(gaps), loc="upper right", columnspacing=1.0, handlelength=1.5)
    return fig


def gap_sigma_figure(sigmas: np.ndarray, curves: Dict[float, np.ndarray], peaks: Dict) -> Figure:
    """Gap against sigma per model error, its peak marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = plt.cm.viridis(np.linspace(0.9, 0.1, len(curves)))
    for (d, curve), color in zip(curves.items(), colors):
        ax.semilogx(sigmas, curve, color=color, lw=1.6, label=f"$\\delta$ = {d:g}")
        ax.plot([peaks[d]['peak_sigma']], [peaks[d]['peak_gap']], "v", color=color, ms=6)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(xlabel="$\\sigma$", ylabel="relative gap (val - train) / train")
    ax.legend()
    return fig


def _peak_axes(ax, keys: Sequence, peaks: Dict, xlabel: str):
    """Peak gap against ``keys`` on ``ax`` (blue) and a twin axis for orange lines, returned."""
    ax.plot(keys, [peaks[k]['peak_gap'] for k in keys], "o-", color="tab:blue")
    ax.set(xlabel=xlabel, ylabel="peak gap")
    ax.yaxis.label.set_color("tab:blue")
    return ax.twinx()


def density_figure(sigmas: np.ndarray, curves: Dict[int, np.ndarray], peaks: Dict, delta: float) -> Figure:
    """Left: gap against sigma per number of training points; right: peak gap and its sigma against N."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.6))
    colors = plt.cm.plasma(np.linspace(0.05, 0.85, len(curves)))
    for (n, curve), color in zip(curves.items(), colors):
        ax1.semilogx(sigmas, curve, color=color, lw=1.4, label=f"N = {n}")
    ax1.set(xlabel="$\\sigma$", ylabel="relative gap", title=f"$\\delta$ = {delta:g}")
    ax1.legend(ncol=2, loc="upper right", handlelength=1.0, columnspacing=0.6, labelspacing=0.2)
    ax3 = _peak_axes(ax2, list(curves), peaks, "training points N")
    ax3.plot(list(curves), [peaks[n]['peak_sigma'] for n in curves], "s--", color="tab:orange")
    ax3.set_ylabel("$\\sigma$ of the peak", color="tab:orange")
    ax3.grid(False)
    return fig


def guidance_figure(sigmas: np.ndarray, curves: Dict[float, np.ndarray], peaks: Dict, delta_pos: float,
                    delta_neg: float, delta_by_weight: Dict, delta_by_peak: Dict) -> Figure:
    """Left: gap against sigma per guidance weight; right: peak gap and the two effective deltas against w."""
    weights = list(curves)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.6))
    colors = plt.cm.magma(np.linspace(0.1, 0.8, len(weights)))
    for (w, curve), color in zip(curves.items(), colors):
        ax1.semilogx(sigmas, curve, color=color, lw=1.5, label=f"w = {w:g}")
    ax1.set(xlabel="$\\sigma$", ylabel="relative gap",
            title=f"$\\delta_{{pos}}$ = {delta_pos:g}, $\\delta_{{neg}}$ = {delta_neg:g}")
    ax1.legend(handlelength=1.2, labelspacing=0.2)
    ax3 = _peak_axes(ax2, weights, peaks, "guidance weight w")
    ax3.plot(weights, [delta_by_weight[w] for w in weights], "s--", color="tab:orange", label="same identity weight")
    ax3.plot(weights, [delta_by_peak[w] for w in weights], "d:", color="tab:orange", label="same peak gap")
    ax3.set_ylabel("effective $\\delta$", color="tab:orange")
    ax3.legend(loc="upper right", handlelength=1.5)
    ax3.grid(False)
    return fig


def trajectories_figure(paths: Dict[float, np.ndarray], deltas: Sequence[float], train: np.ndarray,
                        val: np.ndarray, recall_tol: float, n_paths: int = 40) -> Figure:
    """Per model error in ``deltas`` a panel with the first ``n_paths`` trajectories (grey), every
    endpoint (blue), training (crosses) and validation points (red circles); titles: exact-recall fraction."""
    n_cols = min(2, len(deltas))
    n_rows = -(-len(deltas) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 3.3 * n_rows), squeeze=False)
    for ax in axes.flat[len(deltas):]:
        ax.axis("off")
    for ax, d in zip(axes.flat, deltas):
        for k in range(min(n_paths, paths[d].shape[1])):
            ax.plot(paths[d][:, k, 0], paths[d][:, k, 1], color="0.7", lw=0.5)
        e = paths[d][-1]
        ax.scatter(e[:, 0], e[:, 1], s=14, color="tab:blue", alpha=0.5, zorder=3)
        ax.scatter(val[:, 0], val[:, 1], s=30, facecolors="none", edgecolors="tab:red", zorder=4)
        ax.scatter(train[:, 0], train[:, 1], s=22, marker="x", color="k", zorder=5)
        ax.set(xlim=(-14, 14), ylim=(-14, 14), aspect="equal", xticks=[], yticks=[],
               title=f"$\\delta$ = {d:g}: recall {toy_analysis.recall_fraction(e, train, recall_tol):.2f}")
    return fig


def generated_figure(dist: GeneratedDistances) -> Figure:
    """Left: FD of the generated points to train and val against delta; right: mean distance to
    the nearest train and val point and the exact-recall fraction."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.6))
    ax1.plot(dist.deltas, dist.fd_train, "o-", label="FD(generated, train)")
    ax1.plot(dist.deltas, dist.fd_val, "s-", label="FD(generated, val)")
    ax1.axhline(dist.fd_floor, color="0.4", ls=":", label="FD(train, val)")
    ax1.set(xlabel="model error $\\delta$", ylabel="Fréchet distance")
    ax1.legend(handlelength=1.5)
    ax2.plot(dist.deltas, dist.nn_train, "o-", label="to nearest train point")
    ax2.plot(dist.deltas, dist.nn_val, "s-", label="to nearest val point")
    ax2.set(xlabel="model error $\\delta$", ylabel="mean distance")
    ax4 = ax2.twinx()
    ax4.plot(dist.deltas, dist.recall, "^:", color="tab:green", label="exact recalls")
    ax4.set_ylabel("fraction of exact recalls", color="tab:green")
    ax4.set_ylim(-0.02, 1.02)
    ax4.grid(False)
    ax2.legend(loc="lower right", bbox_to_anchor=(1, 0.06), handlelength=1.5)
    return fig
