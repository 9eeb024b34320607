"""The trajectories chapter's figures of trajectory states against noisy training and validation
images. Each draws one figure with pyplot and returns it (the chapter shows it)."""

from __future__ import annotations

from typing import Dict

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..measure import summaries

SET_COLORS = {"trajectory": "k", "train": "C3", "val": "C0"}


def measures_figure(stats, peak_sigma: float) -> Figure:
    """Per sampler step, medians and 10-90% bands of the trajectory states', the noisy training
    and the noisy validation samples' r (left), log-density relative to the noisy training
    samples' median (middle) and largest posterior weight (right); dotted: the training gap's peak."""
    fig, axes = plt.subplots(1, 3, figsize=(7, 3.2))
    sig = stats.sigmas
    ref = np.median(stats.values["train"]["logp"], axis=1)
    for name, c in SET_COLORS.items():
        for a, meas in zip(axes, ("nn_dist", "logp", "max_weight")):
            v = stats.values[name][meas] - (ref[:, None] if meas == "logp" else 0)
            a.semilogx(sig, np.median(v, 1), "-o", color=c, ms=3, label=name if name != "trajectory" else "trajectory states")
            a.fill_between(sig, np.quantile(v, 0.1, 1), np.quantile(v, 0.9, 1), color=c, alpha=0.15)
    axes[0].set(ylabel="r = NN dist. / ($\\sigma\\sqrt{D}$)", yscale="log")
    axes[1].set(ylabel="log p$_\\sigma$(x) - median train", yscale="symlog")
    axes[2].set_ylabel("largest posterior weight")
    for a in axes:
        a.axvline(peak_sigma, color="0.5", ls=":")
        a.set_xlabel("$\\sigma_k$")
    axes[0].legend(handlelength=1.2, labelspacing=0.2)
    return fig


def defined_mean(draws) -> np.ndarray:
    """The mean shell index per step, NaN where noisy training and fresh images are not told apart."""
    return np.where(np.all([d.resolved() for d in draws], 0), np.mean([d.index for d in draws], 0), np.nan)


def shell_figure(scales: Dict[str, dict], main_sizes: Dict[str, int], criterion: float) -> Figure:
    """Per scale (a panel): the shell index against sigma_k for every training-set size (the main
    size over all its seed draws) and the optimal denoiser (dashed), the main run's half-peak band
    of the training gap shaded and the criterion dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), sharey=True)
    for a, (label, sc) in zip(axes, scales.items()):
        main_n = main_sizes[label]
        sig_k = sc["seed_draws"][0][0].sigmas
        for (n, draws), color in zip(sorted(sc["size_draws"].items()), ("C1", "C2", "C3")):
            draws = [d for s in sc["seed_draws"] for d in sc["seed_draws"][s]] if n == main_n else draws
            a.semilogx(sig_k, defined_mean(draws), "-o", ms=3, color=color, label=f"N = {n}")
        a.semilogx(sig_k, defined_mean(sc["optimal"][main_n]), "k--", label="optimal denoiser")
        a.axvspan(*summaries.half_peak_band(sc["curves"][main_n].sigmas, sc["curves"][main_n].gap[-1]), color="0.9")
        a.axhline(criterion, color="0.5", ls=":")
        a.set(title=label, xlabel="$\\sigma_k$", ylim=(-0.6, 1.4))
    axes[0].set_ylabel("shell index")
    for a in axes:
        a.legend(fontsize=7)
    return fig
