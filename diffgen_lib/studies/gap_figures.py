"""The training-gap chapter's figures: the gap against sigma per snapshot, raw weights against
their EMA, the errors at the peak through training, the network against the optimal denoiser, the
reconstruction grid, run comparisons (model size, dataset size, conditioning) and the two scales.
Each function draws one figure with pyplot and returns it (the chapter shows it)."""

from __future__ import annotations

from typing import Callable, Dict, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..measure.evaluation import GapCurves
from ..runs import TrainedRun
from .training_gap import Reconstructions, Spacing


def sigma_axis(ax, sd: float) -> None:
    """Mark sigma_data on a log-sigma axis and add sigma / sigma_data on top."""
    ax.axvline(sd, color="0.4", ls=":", lw=1)
    ax.text(sd, 0.98, " $\\sigma_\\mathrm{data}$", transform=ax.get_xaxis_transform(), va="top",
            fontsize=9, color="0.3")
    top = ax.secondary_xaxis("top", functions=(lambda s: s / sd, lambda r: r * sd))
    top.set_xlabel("$\\sigma / \\sigma_\\mathrm{data}$", fontsize=9)


def gap_snapshots_figure(curves: GapCurves, peaks: Dict, band: Dict, n_seeds: int, sd: float) -> Figure:
    """The gap against sigma of every snapshot (colour: step), the overfitting threshold, the
    last snapshot's peak and its band over the training seeds."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    cmap = plt.cm.viridis
    norm = plt.Normalize(0, curves.steps.max())
    sig = curves.sigmas
    ax.fill_between(sig, band["min"], band["max"], color="0.5", alpha=0.3, lw=0, label=f"last step, {n_seeds} seeds")
    for t, step in enumerate(curves.steps):
        ax.semilogx(sig, curves.gap[t], color=cmap(norm(step)), lw=1.5)
    ax.semilogx(sig, curves.threshold, "k--", lw=1.2, label="overfitting threshold")
    ax.plot(sig[peaks["index"][-1]], peaks["peak_gap"][-1], "v", color=cmap(norm(curves.steps[-1])), ms=7,
            label=f"peak at step {curves.steps[-1]}")
    ax.axhline(0, color="0.6", lw=0.8)
    sigma_axis(ax, sd)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="training step")
    ax.set(xlabel="$\\sigma$", ylabel="relative gap (val - train) / train")
    ax.legend(loc="upper left")
    return fig


def ema_figure(sigmas: np.ndarray, steps: np.ndarray, bands: Dict[str, Dict], seed_peaks: Dict[str, Dict],
               seeds: Sequence[int]) -> Figure:
    """Per kind of weights ("raw", "EMA"): the last snapshot's gap band over the seeds (left) and
    the peak gap per snapshot, mean with the seeds' range (right)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.4))
    for name, color in zip(bands, ("tab:blue", "tab:orange")):
        b = bands[name]
        ax1.semilogx(sigmas, b["mean"], color=color, lw=1.5, label=name)
        ax1.fill_between(sigmas, b["min"], b["max"], color=color, alpha=0.25, lw=0)
        p = np.array([seed_peaks[name][s]["peak_gap"] for s in seeds])
        ax2.errorbar(steps, p.mean(0), yerr=[p.mean(0) - p.min(0), p.max(0) - p.mean(0)], fmt="o-",
                     color=color, ms=4, capsize=2, label=name)
    ax1.axhline(0, color="0.6", lw=0.8)
    ax1.set(xlabel="$\\sigma$", ylabel="relative gap", title=f"step {steps[-1]}")
    ax1.legend(loc="upper left")
    ax2.set(xlabel="training step", ylabel="peak relative gap")
    ax2.legend(loc="upper left")
    return fig


def gap_time_figure(curves: GapCurves, k: int, sd: float) -> Figure:
    """At sigma index ``k``: both errors (left) and the gap (right) against the training step."""
    sig = curves.sigmas
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.4))
    ax1.plot(curves.steps, curves.train_error[:, k], "o-", label="train")
    ax1.plot(curves.steps, curves.val_error[:, k], "s-", label="val")
    ax1.set(xlabel="training step", ylabel="denoising error E($\\sigma$)",
            title=f"$\\sigma$ = {sig[k]:.3g} ({sig[k] / sd:.3g} $\\sigma_\\mathrm{{data}}$)")
    ax1.legend()
    ax2.plot(curves.steps, curves.gap[:, k], "o-", color="tab:red")
    ax2.set(xlabel="training step", ylabel="relative gap", title=f"$\\sigma$ = {sig[k]:.3g}")
    ax2.set_ylim(bottom=min(0, curves.gap[:, k].min()))
    return fig


def optimal_figure(curves: GapCurves, optimal: GapCurves, sd: float) -> Figure:
    """Left: the last snapshot's errors against the optimal denoiser's and sigma^2; right: their ratios."""
    sig, opt_tr, opt_va = curves.sigmas, optimal.train_error[0], optimal.val_error[0]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 4))
    ax1.loglog(sig, curves.train_error[-1], color="tab:blue", label="network, train")
    ax1.loglog(sig, curves.val_error[-1], color="tab:orange", label="network, val")
    ax1.loglog(sig, np.maximum(opt_tr, 1e-12), "--", color="tab:blue", label="optimal, train")
    ax1.loglog(sig, opt_va, "--", color="tab:orange", label="optimal, val")
    ax1.loglog(sig, sig ** 2, ":", color="0.5", lw=1, label="$\\sigma^2$")
    ax1.set_ylim(max(1e-7, curves.train_error[-1].min() / 10), 2 * opt_va.max())
    ax1.set(xlabel="$\\sigma$", ylabel="denoising error E($\\sigma$)")
    ax1.legend(handlelength=1.5, labelspacing=0.2, fontsize=9)
    sigma_axis(ax1, sd)
    with np.errstate(divide="ignore"):
        ax2.loglog(sig, curves.train_error[-1] / opt_tr, color="tab:blue", label="train: network / optimal")
    ax2.loglog(sig, curves.val_error[-1] / opt_va, color="tab:orange", label="val: network / optimal")
    ax2.axhline(1, color="0.6", lw=0.8)
    ax2.set(xlabel="$\\sigma$", ylabel="error ratio")
    ax2.legend(handlelength=1.5, labelspacing=0.2)
    sigma_axis(ax2, sd)
    return fig


def reconstruction_figure(recon: Reconstructions, recon_opt: Reconstructions, n_images: int,
                          name: str = "optimal") -> Figure:
    """A grid of images: train block, then val block; rows clean, noisy, each snapshot's
    reconstruction and the reconstruction of ``recon_opt``'s denoiser ``name``."""
    rows = ["clean", "noisy"] + [f"step {s}" for s in recon.steps] + [name]
    fig, axes = plt.subplots(len(rows), 2 * n_images + 1,
                             figsize=(0.46 * (2 * n_images + 1) + 0.9, 0.46 * len(rows) + 0.5))
    axes = np.asarray(axes).reshape(len(rows), -1)
    for c, (block, clean, noisy, outs, opt) in enumerate((
            ("train", recon.clean_train, recon.noisy_train, recon.train, recon_opt.train[name]),
            ("val", recon.clean_val, recon.noisy_val, recon.val, recon_opt.val[name]))):
        stacks = [clean, noisy] + [outs[s] for s in recon.steps] + [opt]
        for r, images in enumerate(stacks):
            for i in range(n_images):
                axes[r, c * (n_images + 1) + i].imshow(images[i, 0].numpy(), cmap="gray_r", vmin=-1, vmax=1)
        axes[0, c * (n_images + 1)].set_title(block, loc="left", fontsize=9)
    for a in axes.flat:
        a.set_xticks([]); a.set_yticks([])
    for r, row in enumerate(rows):
        axes[r, 0].set_ylabel(row, rotation=0, ha="right", va="center", fontsize=9)
    for a in axes[:, n_images]:
        a.axis("off")
    fig.suptitle(f"$\\sigma$ = {recon.sigma:.3g}", fontsize=10)
    return fig


def comparison_figure(curve_sets: Dict, peak_sets: Dict, label: Callable[[object], str], title: str,
                      steps: int, sd: float) -> Figure:
    """Runs side by side: the last snapshot's gap against sigma (left), the peak gap per snapshot (right)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.6))
    colors = plt.cm.plasma(np.linspace(0.1, 0.8, len(curve_sets)))
    for (name, c), color in zip(curve_sets.items(), colors):
        ax1.semilogx(c.sigmas, c.gap[-1], color=color, lw=1.6, label=label(name))
        ax2.plot(c.steps, peak_sets[name]["peak_gap"], "o-", color=color, label=label(name))
    ax1.axhline(0, color="0.6", lw=0.8)
    sigma_axis(ax1, sd)
    ax1.set(xlabel="$\\sigma$", ylabel="relative gap", title=f"last snapshot ({steps} steps)")
    ax1.legend(loc="upper left", handlelength=1.2, labelspacing=0.2)
    ax2.set(xlabel="training step", ylabel="peak relative gap", title=title)
    ax2.legend(handlelength=1.2, labelspacing=0.2)
    return fig


def run_label(run: TrainedRun) -> str:
    """"<H>x<W>, N = <n_train>, <steps> steps" of a run."""
    return f"{'x'.join(map(str, run.splits.image_shape[1:]))}, N = {run.config.n_train}, {run.config.max_steps} steps"


def scales_figure(scale_runs: Dict[str, tuple], spacings: Dict[str, Spacing], peaks: Dict[str, Dict]) -> Figure:
    """Runs of both scales (``scale_runs[name] = (run, curves)``): the last gap against sigma /
    sigma_data with each resolve level (left), the peak gap against the fraction of training (right)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.2))
    for (name, (r, c)), color in zip(scale_runs.items(), ("C0", "C3", "C1", "C2", "C4", "C5")):
        label = run_label(r)
        ax1.semilogx(c.sigmas / r.sigma_data, c.gap[-1], color=color, label=label)
        ax1.axvline(spacings[name].resolve_sigma / r.sigma_data, color=color, ls=":")
        ax2.plot(c.steps / r.config.max_steps, peaks[name]["peak_gap"], "o-", color=color,
                 label=", ".join(label.split(", ")[:2]))
    ax1.set(xlabel="$\\sigma / \\sigma_\\mathrm{data}$", ylabel="relative gap (last snapshot)")
    ax1.legend(fontsize=7, loc="center right")
    ax2.set(xlabel="training step / last step", ylabel="peak gap")
    ax2.legend()
    return fig
