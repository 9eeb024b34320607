"""The inference chapter's largest figures: partial inference against the training gap per scale
(:func:`partial_figure`) and the transfer of training-side memorization to the samples
(:func:`transfer_figure`). Each draws one figure with pyplot and returns it (the chapter shows it)."""

from __future__ import annotations

from typing import Dict

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import inference_claims as ic


def partial_figure(scales: Dict[str, "ic.ScaleStudy"]) -> Figure:
    """Per scale (a column): the relative training gap with its half-peak band and peak (top); the
    partial-inference index of the model, the memorizing run and the optimal-denoiser sampler on
    the model's scale, mean and 90% interval, at the steps where it is defined, and the model's
    decided share (bottom, grey, right axis)."""
    fig, axes = plt.subplots(2, 2, figsize=(7, 5.2), sharex="col")
    for col, s in enumerate(scales.values()):
        c, rc = s.seed_curves[0], s.seed_calibration[0]
        lo, hi = s.band(0)
        axes[0, col].semilogx(c.sigmas, c.gap[-1], "k-")
        axes[0, col].set(title=s.label, ylabel="relative training gap" if col == 0 else None)
        opt = rc.partial_index(ic.HEADLINE, s.optimal[s.main_n].partial[ic.HEADLINE])
        resolved = ic.resolved_steps(rc)
        for label, idx, color in (("model", rc.partial_index(ic.HEADLINE), "C3"),
                                  (f"memorizing N={s.control_n}",
                                   s.size_calibration[s.control_n].partial_index(ic.HEADLINE), "C1"),
                                  ("optimal denoiser", opt, "C0")):
            ks = [k for k in range(len(rc.sigmas)) if np.isfinite(idx[..., k]).all() and resolved[k]]  # measured, defined
            est = [ic.draws_estimate(idx[..., k]) for k in ks]
            axes[1, col].semilogx(rc.sigmas[ks], [e.value for e in est], "-o", color=color, ms=3, label=label)
            axes[1, col].fill_between(rc.sigmas[ks], [e.lo for e in est], [e.hi for e in est], color=color, alpha=0.2)
        twin = axes[1, col].twinx()
        twin.semilogx(rc.sigmas, s.decided[0].mean(0), color="0.5", ls="--")
        twin.set(ylim=(0, 1.05), ylabel="decided share" if col == 1 else None)
        axes[1, col].set(ylim=(-0.5, 1.5), xlabel="$\\sigma$ ($\\sigma_k$)",
                         ylabel="partial-inference index" if col == 0 else None)
        for a in axes[:, col]:
            a.axvspan(lo, hi, color="0.9")
            a.axvline(c.peak()["peak_sigma"], color="0.5", ls=":")
    axes[1, 0].legend(loc="upper left", fontsize=8)
    return fig


def _errors(points, name):
    return [[p[name].value - p[name].lo for p in points], [p[name].hi - p[name].value for p in points]]


def transfer_figure(scales: Dict[str, "ic.ScaleStudy"]) -> Figure:
    """m_train at the training gap's peak against m_inf of the samples, every snapshot of every run
    at every scale (marker size: the fraction of training done), the diagonal and the
    optimal-denoiser sampler."""
    points = [p for s in scales.values() for p in ic.transfer_points(s)]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = dict(zip(scales, "os"))  # main scale: circles, second scale: squares
    for (sc, n), color in zip(sorted({(p["scale"], p["n"]) for p in points}), plt.cm.tab10.colors):
        ps = [p for p in points if (p["scale"], p["n"]) == (sc, n)]
        x, y = [p["m_train"].value for p in ps], [p["m_inf"].value for p in ps]
        ax.errorbar(x, y, xerr=_errors(ps, "m_train"), yerr=_errors(ps, "m_inf"), fmt="none", ecolor=color, alpha=0.5)
        ax.scatter(x, y, s=[12 + 40 * p["fraction"] for p in ps], color=color, marker=markers[sc], label=f"{sc}, N = {n}")
    for s, m in zip(scales.values(), ("*", "P")):
        ax.scatter([1.0], [ic.draws_estimate(ic.optimal_index(s, s.main_n)).value], marker=m, s=120, color="k",
                   label=f"optimal denoiser, {s.label}")
    ax.plot([0, 1.05], [0, 1.05], "k--", lw=1)
    ax.set(xlabel="training index $m_\\mathrm{train}$", ylabel="memorization index $m_\\mathrm{inf}$",
           xlim=(-0.05, 1.1), ylim=(-0.05, 1.1))
    ax.legend(fontsize=7, loc="upper left")
    return fig
