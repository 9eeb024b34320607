# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Across scales
#
# The book measures the same recipe at three image sizes: 8x8 digits (64 dimensions) and 14x14
# MNIST digits (196) in the default chapters, 28x28 MNIST digits (784) in the pages executed with
# the `long` profile. This page puts what they found on one axis, the dimension $D$, beside the
# paper's ImageNet-64 ($D$ = 12,288): where the training gap peaks and where single training images
# become distinguishable relative to $\sigma_\text{data}$, how many samples are already decided
# at the sampler step nearest the training gap's peak, and the transfer ratio
# $m_\text{inf}/m_\text{train}$ of the main run (claim C4e). The numbers are read from the
# executed notebooks of {doc}`04_inference_gap` and of its 28x28 page.

# %% tags=["remove-input"]
import json
import math

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from diffgen_lib import book

summaries = {}
for path in (book.ROOT / "book" / "04_inference_gap.ipynb", book.ROOT / "book" / "long" / "04_inference_gap.ipynb"):
    if path.exists():
        nb = json.loads(path.read_text(encoding="utf-8"))
        for label, values in (book.glued(nb, "scales_summary") or {}).items():
            summaries.setdefault(label, values)
scales = sorted(summaries.items(), key=lambda kv: kv[1]["dim"])
PAPER_D = 12288

# %% [markdown]
# ## Against the dimension

# %% tags=["remove-input"] mystnb={"figure": {"name": "fig-scales", "caption": "Against the dimension D of the images (log scale), one point per scale (main run, last snapshot): the training gap's peak and the resolve level of single training images relative to sigma_data (left), the decided share at the sampler step nearest the peak (middle), the transfer ratio m_inf / m_train of claim C4e with its 90% interval (right). Dotted: the paper's ImageNet-64 (D = 12,288); dashed (middle and right, with three scales): a straight line through the points in log D, extended to it and cut at 0 and 1."}}
dims = np.array([v["dim"] for _, v in scales], dtype=float)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), layout="constrained")
series = {"peak / $\\sigma_\\mathrm{data}$": [v["peak_over_sd"] for _, v in scales],
          "resolve / $\\sigma_\\mathrm{data}$": [v["resolve_over_sd"] for _, v in scales]}
for (label, ys), marker in zip(series.items(), ("o", "s")):
    axes[0].semilogx(dims, ys, marker, ls="-", label=label)
axes[0].set(ylabel="noise level / $\\sigma_\\mathrm{data}$")
axes[0].legend(fontsize=7)
axes[1].semilogx(dims, [v["decided_at_peak"] for _, v in scales], "o-", color="C2")
axes[1].set(ylabel="decided share at the peak step", ylim=(0, 1.05))
t = np.array([v["transfer"] for _, v in scales])
axes[2].errorbar(dims, t[:, 0], yerr=[t[:, 0] - t[:, 1], t[:, 2] - t[:, 0]], fmt="o-", color="C3", capsize=3)
axes[2].set_xscale("log")
axes[2].axhline(0, color="0.6", lw=0.8)
axes[2].set(ylabel="transfer ratio $m_\\mathrm{inf}/m_\\mathrm{train}$")
fits = {}
for a, (name, ys) in zip(axes[1:], (("decided", [v["decided_at_peak"] for _, v in scales]),
                                ("transfer", list(t[:, 0])))):
    if len(dims) >= 3:  # a line through two points says nothing about its own fit
        slope, icpt = np.polyfit(np.log(dims), ys, 1)
        fits[name] = (slope, icpt)
        xs = np.geomspace(dims.min(), PAPER_D, 50)
        a.semilogx(xs, np.clip(slope * np.log(xs) + icpt, 0, 1), "--", color="0.5", lw=1)  # both lie in [0, 1]
for a in axes:
    a.axvline(PAPER_D, color="0.4", ls=":")
    a.set_xlabel("dimension D")
    a.set_xlim(40, 2e4)
plt.show()

# %% tags=["remove-input"]
# NBVAL_CHECK_OUTPUT
book.show_table([{"scale": label, "D": v["dim"], "N": v["n_train"], "peak / sigma_data": book.sig3(v["peak_over_sd"]),
                  "resolve / sigma_data": book.sig3(v["resolve_over_sd"]), "decided at the peak step": f"{v['decided_at_peak']:.0%}",
                  "transfer ratio (C4e)": f"{book.sig3(v['transfer'][0])} [{book.sig3(v['transfer'][1])}, {book.sig3(v['transfer'][2])}]"}
                 for label, v in scales], "tbl-scales",
                "What each scale's main run found (last snapshot): the training gap's peak and the resolve level relative to "
                "sigma_data, the decided share at the sampler step nearest the peak, and the transfer ratio of C4e.")

# %% [markdown]
# ## Toward the paper's scale

# %% tags=["remove-input"]
def trend(first, last):
    """'falls', 'rises' or 'stays' for two measured numbers."""
    return "stays" if math.isclose(first, last, rel_tol=0.02, abs_tol=1e-3) else ("falls" if last < first else "rises")


if len(scales) >= 3:
    def at_paper(name, lo_bound, hi_bound):
        """The line's value at the paper's D, clipped to what the quantity can be, and where it leaves that range."""
        slope, icpt = fits[name]
        value = slope * math.log(PAPER_D) + icpt
        if lo_bound <= value <= hi_bound or slope == 0:
            return value, ""
        edge = lo_bound if value < lo_bound else hi_bound
        d_edge = math.exp((edge - icpt) / slope)
        return edge, f" (the line reaches {edge:g} at $D$ = {d_edge:,.0f} and is cut there)"

    (decided, decided_note), (transfer, transfer_note) = at_paper("decided", 0, 1), at_paper("transfer", 0, 1)
    (_, lo), (_, hi) = scales[0], scales[-1]
    d_dir, t_dir = trend(lo["decided_at_peak"], hi["decided_at_peak"]), trend(lo["transfer"][0], hi["transfer"][0])
    reading = {
        ("falls", "falls"): "Both trends point the paper's way: at larger $D$ the training gap's band lies earlier in "
                            "sampling, before the samples are decided, and less of what the objective memorized reaches them.",
        ("rises", "rises"): "Both trends point against the paper's reading: at larger $D$ more samples are decided at the "
                            "training gap's peak and more of what the objective memorized reaches the samples.",
    }.get((d_dir, t_dir), "The two trends do not point the same way, so these scales do not say how the paper's "
                          "mechanism changes with $D$.")
    if t_dir == "falls" and d_dir != "falls" and min(v["decided_at_peak"] for _, v in scales) >= 0.9:
        reading = ("Less of what the objective memorized reaches the samples at larger $D$. The decided share does not "
                   "say why: at every scale here at least 90% of the samples are decided at the sampler step nearest the "
                   "training gap's peak, so the band where the network overfits comes after the samples' nearest training "
                   "image is fixed, at all three scales.")
    moves = {"stays": "stays about the same", "falls": "falls", "rises": "rises"}
    display(Markdown(
        f"Read as trends in $\\log D$, the decided share at the training gap's peak {moves[d_dir]} "
        f"({lo['decided_at_peak']:.0%} at $D$ = {lo['dim']}, {hi['decided_at_peak']:.0%} at $D$ = {hi['dim']}), "
        f"and the transfer ratio {moves[t_dir]} ({book.sig3(lo['transfer'][0])} and {book.sig3(hi['transfer'][0])}). "
        f"{reading} A straight line in $\\log D$ through the points, extended to the paper's $D$ = 12,288, gives a "
        f"decided share of {decided:.0%}{decided_note} and a transfer ratio of {book.sig3(transfer)}{transfer_note}. How sure is that? Three points, "
        "one training seed at 28x28, three image sizes of one dataset and a different training-set size and training "
        "length at each scale: the direction is measured, the extrapolated numbers are a guess."))
else:
    display(Markdown(f"Only {len(scales)} {'scale is' if len(scales) == 1 else 'scales are'} executed here; the 28x28 "
                     "pages (`make book-long`) add the third."))
