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
# # An error-prone toy model
#
# The optimal denoiser of a finite training set memorizes (previous chapter): its flow field
# collapses onto the training points at small noise, and sampling with it returns them. A trained
# network is not the optimal denoiser; it makes errors. {cite:t}`kaiser2026diffusion` ask what
# such errors do and answer with a model that is simple enough to be solved exactly: the network
# is modelled as the *exact* denoiser of a slightly wrong data distribution, the training
# distribution blurred by a Gaussian of width $\delta$. The model error is then a single number,
# $\delta$, and every quantity of interest (the flow field, the denoising error on training and on
# validation points, the samples) can be computed in closed form in two dimensions.
#
# This chapter rebuilds the paper's toy-model figures and checks the claim (C6 in this book) that
# model error, or a denser data support, suppresses the exact recall of training points and yields
# a smooth, generalizing flow field, with a generalization gap that is largest at noise levels
# $\sigma \sim \delta$ and shrinks as $\delta$ grows or the training points get denser.

# %% tags=["remove-cell"]
# On Colab or Binder: install this project where diffgen_lib is missing (does nothing elsewhere),
# from the repository that repository.url of the book's _config.yml (next to book/) names.
import importlib.util, pathlib, subprocess, sys
if importlib.util.find_spec("diffgen_lib") is None:
    config = pathlib.Path("../_config.yml")
    url = ""
    if config.exists():
        import yaml
        url = str(((yaml.safe_load(config.read_text()) or {}).get("repository") or {}).get("url") or "").strip()
    if url:
        subprocess.run(["git", "clone", "-q", "--depth", "1", url, "/tmp/diffgen"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/tmp/diffgen"], check=True)
        sys.path.insert(0, "/tmp/diffgen")
    else:
        print("diffgen_lib is not installed and no repository is known to install it from: set repository.url in _config.yml")

# %% tags=["parameters"]
n_circle = 20            # int in [4, 400]: points on the symmetric circle (radius 10), alternating train and val
gap_steps = 120          # int in [10, 2000]: noise levels (EDM schedule) of the gap-against-sigma curves
n_noise = 500            # int in [1, 20000]: noise draws of each point for the denoising error (its own, seeded by seed)
regime_delta = 1.6       # float in (0, 10]: model error of the right-hand flow fields (left: delta 0)
regime_sigmas = [8.0, 1.6, 0.25]  # list of float in (0, 80]: noise levels of the flow fields (sigma >> delta, ~ delta, << delta)
angle_sigma = 1.0        # float in (0, 80]: noise level of the gap along the circle
angle_deltas = [0.0, 0.8, 1.6, 2.2]  # list of float in [0, 10]: model errors of the gap along the circle
deltas = [2.2, 2.0, 1.8, 1.6, 1.4, 1.2]  # list of float in (0, 10]: model errors of the gap-against-sigma curves
density_train = [8, 9, 10, 11, 12, 13, 14, 15]  # list of int in [2, 200]: training points on the circle (as many val points)
density_delta = 1.6      # float in [0, 10]: model error of the density sweep
delta_pos = 1.8          # float in [0, 10]: model error of the guided model
delta_neg = 2.2          # float in (0, 10], above delta_pos: model error of the guiding (blurrier) model
guidance_weights = [0.0, 0.5, 1.0, 1.5, 2.0]  # list of float in [0, 10]: autoguidance weights w
n_random = 20            # int in [4, 400]: points on the random circle of the sampler (half train, half val)
traj_deltas = [0.0, 0.5, 1.2, 2.2]  # list of float in [0, 10]: model errors of the trajectory panels
fd_deltas = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4]  # list of float in [0, 10]: model errors of the FD sweep
n_gen = 500              # int in [10, 100000]: generated points per model error
traj_steps = 40          # int in [2, 1000]: Euler steps of the toy sampler
recall_tol = 0.1         # float in (0, 10]: a generated point within this distance of a training point is an exact recall
explorer_deltas = [0.0, 0.8, 1.6, 2.4]   # list of float in [0, 10]: model errors shown by the static explorer
explorer_sigmas = [6.0, 2.0, 1.0, 0.5, 0.15]  # list of float in (0, 80]: noise levels shown by the static explorer
explorer_n_train = [5, 10, 15]           # list of int in [2, 50]: training-set sizes shown by the static explorer
explorer_weights = [1.0, 2.0]            # list of float in [0, 10]: guidance weights shown by the static explorer
end_criterion = 0.1      # float in (0, 1]: C6c passes if |gap| at the smallest and at the largest sigma is at most this fraction of the peak, for every delta
rank_criterion = 0.9     # float in (0, 1]: C6a, C6b (C6d) pass if the rank correlation of the peak gap with delta, with N (with w) is at most -this (at least this)
peak_factor = 3.0        # float in [1, 100]: C6e passes if every gap curve peaks at a sigma within this factor of its delta
recall_low = 0.2         # float in [0, 1]: C6g passes if the exact-recall fraction at the largest trajectory delta is at most this (C6f: at least 0.95 at the smallest)
claim_seeds = 3          # int in [1, 20]: noise seeds of the gap curves behind C6a-e (seed 0: the curves above), for their 90% intervals
seed = 0                 # int in [0, 2**31-1]: master seed (random circle, sampler noise)

# %%
import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display
from diffgen_lib.progress import progress_bar

from diffgen_lib import diffusion, toy
from diffgen_lib.studies import explorer, toy_analysis, toy_figures, toy_study, toy_tables
from diffgen_lib.book import claim_over_draws, glue_values, pin_threads, scale, setup_chapter, show_table, sig3

params = setup_chapter("02_toy_model", globals())
glue_values(params)
# The toy model's tensors are tiny (tens of points): one thread is faster than several (no
# synchronization per operation) and stays fast when other processes share the cores.
params.threads = pin_threads(1)
train, val = toy.circle_data(n_circle)
gap_sigmas = diffusion.edm_sigmas(gap_steps).numpy()

# %% [markdown]
# ## The smoothed-data denoiser
#
# The data are points on a circle of radius 10 (the paper's toy set): $n_\text{circle}$ equally
# spaced angles, alternately assigned to the training and the validation set, so that every
# validation point sits exactly halfway between two training points. The optimal denoiser
# $y^*(x;\sigma) = \sum_i w_i(x;\sigma)\,y_i$ is the posterior mean over the training points of
# the previous chapter.
#
# **Error model.** Suppose the model does not see the training distribution
# $p = \frac1N\sum_i \delta_{y_i}$ but a version blurred by a Gaussian of width $\delta$,
# $p_\delta = \frac1N \sum_i \mathcal N(y_i, \delta^2 I)$, and denoises it *exactly*. A clean
# point $z \sim p_\delta$ is a training point plus blur, $z = y_i + \delta m$, and its noisy
# version is $x = z + \sigma n$. Given the component $i$, $(z, x)$ is jointly Gaussian and the
# posterior mean of $z$ is the precision-weighted average
# $\mathbb E[z \mid x, i] = (\sigma^2 y_i + \delta^2 x)/(\sigma^2 + \delta^2)$. The posterior of the
# component given $x$ is that of $x \sim \frac1N\sum_i \mathcal N(y_i, (\sigma^2 + \delta^2) I)$,
# i.e. the optimal denoiser's weights at the *larger* noise level
# $\sqrt{\sigma^2 + \delta^2}$. Averaging over components:
#
# $$
# y_\delta(x;\sigma) \;=\; \frac{\delta^2\, x \;+\; \sigma^2\, y^*\!\big(x;\sqrt{\sigma^2+\delta^2}\big)}
#                               {\sigma^2 + \delta^2} ,
# $$ (eq-smoothed-denoiser)
#
# and $\delta = 0$ gives back the optimal denoiser {cite:p}`kaiser2026diffusion`. Smoothing the
# empirical distribution to obtain a denoiser that generalizes is also the idea of closed-form
# diffusion models {cite:p}`scarvelis2023closed`. The formula has three regimes:
#
# - $\sigma \gg \delta$: $y_\delta \approx y^*(x;\sigma)$, the optimal denoiser at a large noise level,
#   which averages over many training points; training and validation points are denoised
#   equally badly, no gap;
# - $\sigma \ll \delta$: $y_\delta \approx x$, the identity (the blur is wider than the noise, so
#   the best guess is to leave $x$ alone); the error is the noise itself, $\sigma\lVert n\rVert$,
#   for every point alike, no gap;
# - $\sigma \sim \delta$: the denoiser is half identity, half $y^*$ at noise $\approx \sqrt2\,\delta$,
#   which can still resolve single training points when $\delta$ is small compared to their
#   spacing: it pulls noisy training points back onto themselves but noisy validation points
#   towards a *wrong* neighbour. That is where a generalization gap appears, and it is larger the
#   smaller $\delta$ is.
#
# {numref}`fig-toy-regimes` shows the flow fields $y_\delta(x;\sigma) - x$ side by side for
# $\delta = 0$ and $\delta > 0$ at one noise level per regime, with one colour scale for the
# length of the field in all panels. By {eq}`eq-smoothed-denoiser`, the error-prone field at
# noise level $\sigma$ points where the optimal field at the larger noise level
# $\sqrt{\sigma^2 + \delta^2}$ points, and is shorter by the factor $\sigma^2/(\sigma^2+\delta^2)$.
# Without error the field has one basin per training point at the two smaller noise levels. With
# error it points towards the polygon between neighbouring points at $\sigma \sim \delta$, and at
# $\sigma \ll \delta$, although it still points towards single points, it has almost vanished: a
# sampler that arrives there stops moving before it reaches a training point.

# %%
flow_rows = [0.0, regime_delta]
flows = {(d, s): toy.flow_field(train, s, d, resolution=41) for d in flow_rows for s in regime_sigmas}

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-regimes", "caption": "Flow fields $y_\\delta(x;\\sigma) - x$ of the toy model (streamlines, colour: log10 of the field's length) for the optimal denoiser ($\\delta = 0$, top) and the error-prone model (bottom) at noise levels far above, near and far below $\\delta$. Filled dots: training points; open red circles: validation points."}}
toy_figures.regime_flows_figure(train, val, flows, flow_rows, regime_sigmas)
plt.show()

# %% [markdown]
# ## The toy generalization gap
#
# The paper measures generalization the way it does for real networks: the denoising error on
# validation points against that on training points. For every training and every validation point
# we draw {glue:text}`n_noise` noise vectors (the same ones at every $\sigma$), denoise
# $y + \sigma n$ with $y_\delta$ and average the (non-squared) error
# $\lVert y_\delta(y + \sigma n;\sigma) - y\rVert$; the relative gap is
#
# $$
# \mathrm{gap}(\sigma) \;=\; \frac{E_\text{val}(\sigma) - E_\text{train}(\sigma)}{E_\text{train}(\sigma)} .
# $$ (eq-toy-gap)
#
# **The noise draws.** Every training point has its own {glue:text}`n_noise` noise draws, from a
# generator seeded with the chapter's seed and the point's index, so the training points contribute
# independent draws (the paper's protocol draws 50 per point {cite:p}`kaiser2026diffusion`; drawn
# once and shared by every point, on the symmetric circle every point would have the same error
# and the whole curve would rest on those 50 draws). Validation point $j$ reuses the draws of
# training point $j$, in its own radial and tangential directions: the two errors are measured with
# the same noise (common random numbers), so their *difference*, the gap, carries less Monte-Carlo
# error than with independent draws, and at the two ends of the $\sigma$ range, where the model
# treats training and validation points alike, the gap comes out as 0 instead of as noise. The
# check after {numref}`fig-toy-gap-sigma` measures both: at $\delta$ = {glue:text}`mc_delta` the peak
# with 50 shared draws is {glue:text}`mc_old_peak` against {glue:text}`mc_new_peak` with the
# chapter's draws, the spread of the peak over three seeds is {glue:text}`mc_spread_paired` with
# paired and {glue:text}`mc_spread_indep` with independent validation draws, and independent draws
# would leave a gap of up to {glue:text}`mc_indep_end` at the ends, {glue:text}`mc_indep_end_ratio`
# of the peak, against the bound of {glue:text}`end_criterion` that claim C6c tests.
#
# ### Along the circle
#
# First at one noise level, $\sigma = $ {glue:text}`angle_sigma`, for points all around the circle: we put a
# probe at every angle and compare its error with the mean training error
# ({numref}`fig-toy-gap-angle`). The gap is exactly zero at the training points, since a probe there
# *is* a training point, and largest halfway between them, where the validation points sit. Without
# model error it is enormous (the optimal denoiser sends a point between two training points to one
# of them, an error of half the spacing, against a tiny error at the training points); with error it
# shrinks quickly as $\delta$ grows.

# %%
probe_angles = toy_study.probe_angles(train, val)
angle_gaps = {d: toy.gap_along_circle(train, probe_angles, angle_sigma, d, n_noise=n_noise)
              for d in progress_bar(angle_deltas, desc="gap along the circle")}

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-gap-angle", "caption": "Relative gap of a probe point on the circle against the mean training error, as a function of its angle, at one noise level, for several model errors (symmetric-log axis: linear below 0.1). Dotted black lines: training points (gap exactly 0); dotted red lines: validation points (halfway between)."}}
toy_figures.gap_angle_figure(probe_angles, angle_gaps, train, val, angle_sigma)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
show_table(toy_tables.angle_rows(probe_angles, angle_gaps, train),
           "tbl-toy-angle", "The gap around the circle: at the training points it vanishes for every model error; "
           "between them it is largest for the memorizing model (delta = 0) and shrinks as delta grows.")

# %% [markdown]
# ### Across noise levels
#
# Now the gap {eq}`eq-toy-gap` of the validation points against $\sigma$, on the 120-step EDM
# schedule from $\sigma = 80$ down to $0.002$, for $\delta$ from 2.2 down to 1.2 (the paper's
# range; {numref}`fig-toy-gap-sigma`). The three regimes show up as predicted: no gap at large
# $\sigma$ (everything is averaged) and at small $\sigma$ (the model is the identity), a peak in
# between, and a peak that grows quickly as $\delta$ shrinks. For $\delta = 0$ the gap would be
# unbounded at small $\sigma$: the training error goes to exactly zero.

# %%
curves = toy_study.delta_curves(train, val, gap_sigmas, deltas, n_noise, desc="gap against sigma")
peaks = toy_study.peaks_of(gap_sigmas, curves)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-gap-sigma", "caption": "Relative gap (val - train) / train of the toy model against the noise level (120-step EDM schedule), symmetric circle with 10 training and 10 validation points, for model errors from 2.2 down to 1.2. Triangles: the peaks (tabulated below)."}}
toy_figures.gap_sigma_figure(gap_sigmas, curves, peaks)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
show_table(toy_tables.delta_rows(curves, peaks), "tbl-toy-delta",
           "Peak of the validation gap against the noise level per model error delta, and the gap at the two ends "
           "of the sigma range (about 0: the gap lives at intermediate noise).")

# %% [markdown]
# **Monte-Carlo check of the protocol.** At the largest model error, where the gap is smallest
# and the draws matter most: the peak with 50 draws shared by all points, and
# with {glue:text}`n_noise` draws per point for three seeds, once with paired and once with
# independent draws for the validation points (the spread is the largest minus the smallest
# peak; "end" is the largest |gap| at the two ends of the $\sigma$ range).

# %%
# NBVAL_CHECK_OUTPUT
mc = toy_study.monte_carlo_check(train, val, gap_sigmas, max(deltas), n_noise, seed, paired_curve=curves[max(deltas)])
show_table(toy_tables.monte_carlo_rows(mc, n_noise),
           "tbl-toy-mc", f"Monte-Carlo check of the protocol at delta = {mc.delta:g}: the peak gap with 50 noise draws "
           "shared by all points (one seed) and with per-point draws for three seeds, paired or independent for the "
           "validation points.")
glue_values(toy_tables.monte_carlo_values(mc))

# %% tags=["hide-input"]
peak_sig = [peaks[d]['peak_sigma'] for d in deltas]
where = (f"at $\\sigma$ = {peak_sig[0]:.3g} for every $\\delta$" if max(peak_sig) == min(peak_sig)
         else f"at $\\sigma$ between {min(peak_sig):.3g} and {max(peak_sig):.3g}")
display(Markdown(
    f"In this run the peak lies {where} (from {min(deltas):g} to {max(deltas):g}): at the scale of "
    f"$\\delta$, as the regimes predict, but it "
    f"{'barely moves' if max(peak_sig) / min(peak_sig) < 1.25 else 'moves'} with $\\delta$ itself. "
    f"At $\\sigma \\sim \\delta$ the point spacing decides whether the optimal denoiser inside "
    f"$y_\\delta$ resolves single points, so the spacing sets the peak's position too, as the next "
    f"section shows."))

# %% [markdown]
# ### Denser data
#
# Model error is one way to lose the ability to resolve single training points; having them closer
# together is the other. We keep $\delta = $ {glue:text}`density_delta` and put more points on the same circle,
# 8 to 15 training points with as many validation points in between
# ({numref}`fig-toy-density`). The denser the support, the smaller the gap, and the lower the noise
# level at which it peaks: the spacing shrinks, so the optimal denoiser inside $y_\delta$ needs a
# smaller noise level to single out a point, and at smaller noise the identity part of
# {eq}`eq-smoothed-denoiser` takes over. In the limit of a continuous circle, training and
# validation points are indistinguishable.

# %%
density_curves = toy_study.density_curves(density_train, gap_sigmas, density_delta, n_noise, desc="density")
density_peaks = toy_study.peaks_of(gap_sigmas, density_curves)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-density", "caption": "Denser data. Left: relative gap against the noise level for 8 to 15 training points on the circle (as many validation points between them) at a fixed model error. Right: peak gap (blue) and the noise level of the peak (orange) against the number of training points."}}
toy_figures.density_figure(gap_sigmas, density_curves, density_peaks, density_delta)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
show_table(toy_tables.density_rows(density_peaks), "tbl-toy-density", "Peak gap and its noise level against the number of training "
           "points on the circle.")

# %% [markdown]
# ## Autoguidance
#
# Guidance extrapolates from a weaker model $D_\text{neg}$ to the model $D_\text{pos}$,
# $D_w = D_\text{pos} + w\,(D_\text{pos} - D_\text{neg})$; in *autoguidance* the weaker model is a
# smaller or less-trained version of the same model, i.e. a model with a *larger* error. In the toy
# model that is $y_w = y_{\delta_\text{pos}} + w\,(y_{\delta_\text{pos}} - y_{\delta_\text{neg}})$
# with $\delta_\text{neg} > \delta_\text{pos}$. Why this should raise the gap follows from
# {eq}`eq-smoothed-denoiser`: write $y_\delta = a_\delta x + (1 - a_\delta)\,y^*$ with the
# identity weight $a_\delta = \delta^2/(\sigma^2 + \delta^2)$, which grows with $\delta$. The
# guided model puts the weight $(1 + w)\,a_{\delta_\text{pos}} - w\,a_{\delta_\text{neg}} <
# a_{\delta_\text{pos}}$ on $x$: it is *less* identity-like, like a model with a smaller $\delta$,
# and a smaller $\delta$ means a larger gap. Extrapolating away from a blurrier model sharpens the
# model, towards the memorizing optimum. The paper reports the same for real networks: guidance,
# classifier-free or autoguidance, strongly increases the gap at inference {cite:p}`kaiser2026diffusion`.
#
# {numref}`fig-toy-guidance` shows the gap for $\delta_\text{pos} = $ {glue:text}`delta_pos`,
# $\delta_\text{neg} = $ {glue:text}`delta_neg` and growing $w$, and two ways to translate $w$ into an
# "effective" model error: the $\delta$ of an unguided model with the same identity weight at the
# peak (the heuristic above), and the $\delta$ at which the unguided peak gap of
# {numref}`fig-toy-gap-sigma` equals the guided one (interpolated).

# %%
guided_curves = toy_study.guided_curves(train, val, gap_sigmas, delta_pos, delta_neg, guidance_weights, n_noise,
                                       desc="autoguidance")
guided_peaks = toy_study.peaks_of(gap_sigmas, guided_curves)
delta_by_weight, delta_by_peak = toy_study.effective_deltas(guided_peaks, delta_pos, delta_neg, deltas, peaks)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-guidance", "caption": "Autoguidance in the toy model. Left: relative gap against the noise level for growing guidance weight w (guided model delta_pos, guiding model delta_neg). Right: the peak gap against w (blue) and two effective model errors (orange): the delta with the same identity weight at the peak noise level, and the delta whose unguided peak gap equals the guided one (missing where outside the range of deltas measured above)."}}
toy_figures.guidance_figure(gap_sigmas, guided_curves, guided_peaks, delta_pos, delta_neg, delta_by_weight, delta_by_peak)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
show_table(toy_tables.guidance_rows(guided_peaks, delta_by_weight, delta_by_peak), "tbl-toy-guidance",
           "Autoguidance with weight w: the peak gap, its noise level "
           "and the model error delta of an unguided model with the same weight or the same peak gap.")

# %% [markdown]
# ## Sampling: recall or generalization
#
# Finally the samples. We run the toy sampler, Euler steps of the probability-flow ODE on the
# 40-step EDM schedule from $x_0 \sim \mathcal N(0, 80^2 I)$, with $y_\delta$ as the denoiser, on
# a *random* circle ($n_\text{random}$ uniform angles, half of them training points, half
# validation points), so that the training points are unevenly spaced as in real data.
# {numref}`fig-toy-trajectories` shows trajectories and endpoints. Without error every trajectory
# ends exactly on a training point. With a small error the endpoints form small clouds around them;
# with a larger error they spread along the circle, including the gaps between training points
# where validation points lie: the model generates points that are not in the training set but are
# on the data's support.

# %%
random_train, random_val = toy.circle_data(n_random, symmetric=False, seed=seed)
endpoints, paths = toy_study.sample_endpoints(random_train, set(traj_deltas) | set(fd_deltas), traj_deltas, n_gen,
                                              traj_steps, seed)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-trajectories", "caption": "Euler trajectories (grey, the first 40 samples) and endpoints (blue) of the toy sampler on a random circle for growing model error. Black crosses: training points; open red circles: validation points. Titles: fraction of endpoints within the recall tolerance of a training point. The optimal denoiser (left) recalls training points exactly; with growing error the endpoints spread along the circle (and off it)."}}
toy_figures.trajectories_figure(paths, traj_deltas, random_train, random_val, recall_tol)
plt.show()

# %% [markdown]
# How far are the generated points from the training and from the validation points? We fit
# Gaussians and compute the Fréchet distance {cite:p}`heusel2017gans` of the generated points to
# the training points and to the validation points, as the paper does for images (with DINOv2
# features, {cite:t}`stein2023exposing`), and, because a 2-D Gaussian fit only sees the first two
# moments of a handful of points, also the mean distance to the nearest training and to the nearest
# validation point ({numref}`fig-toy-fd`).

# %%
dist = toy_study.generated_distances(endpoints, fd_deltas, random_train, random_val, recall_tol)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-toy-fd", "caption": "Generated points against model error on the random circle. Left: Fr\u00e9chet distance of the generated points to the training points and to the validation points; dotted: FD between the training and the validation points. Right: mean distance of a generated point to its nearest training point and to its nearest validation point, and the fraction of exact recalls (right axis)."}}
toy_figures.generated_figure(dist)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
show_table(toy_tables.generated_rows(dist), "tbl-toy-fd",
           f"Generated points per model error delta: Frechet distance to the training and validation points (the two "
           f"sets themselves are {dist.fd_floor:.3g} apart), mean nearest-neighbour distance to each, and the fraction of "
           "exact recalls.")

# %% tags=["hide-input"]
nn_train, nn_val, fd_train = dist.nn_train, dist.nn_val, dist.fd_train
diff = nn_val - nn_train
display(Markdown(
    f"The two measures tell different stories. The nearest-neighbour distances show the loss of "
    f"exact recall: at $\\delta$ = {fd_deltas[0]:g} a generated point is {sig3(nn_train[0], roundoff=True)} from the "
    f"training set and {nn_val[0]:.3g} from the validation set; at $\\delta$ = {fd_deltas[-1]:g} these "
    f"are {nn_train[-1]:.3g} and {nn_val[-1]:.3g}, the difference shrinking from {diff[0]:.3g} to "
    f"{diff[-1]:.3g}. Both distances grow, though: blurring moves points off the training points "
    f"in every direction, along the circle (towards the validation points) and off it. The Fréchet "
    f"distance to the training points stays between {fd_train.min():.3g} and {fd_train.max():.3g} "
    f"and that to the validation points near the train-val distance of {dist.fd_floor:.3g}: with "
    f"{len(random_train)} points per set, the Gaussian fits of the training and the validation "
    f"points differ by chance far more than blurring moves the generated set, and blurring keeps the "
    f"*mean* of the training set. In two dimensions with a handful of points, FD is not the measure "
    f"that shows generalization; the paper's image-scale FD protocol is reproduced in a later "
    f"chapter."))

# %% [markdown]
# ## Explorer
#
# The four knobs of this chapter, $\delta$, $\sigma$, the number of training points $N$ and the
# guidance weight $w$, in one place. The left panel is the flow field at $(\delta, \sigma)$ on the
# symmetric circle with $N$ training and $N$ validation points, the right panel the relative gap
# against $\sigma$ for the same model with the current $\sigma$ marked. With $w > 0$ the model is
# autoguided by a model with error $\delta + 0.4$.
#
# **Live (needs a running kernel).** When you open this chapter in Jupyter and run it, the sliders
# below recompute and redraw both panels. The page you may be reading was executed once when the
# book was built, with no kernel left behind it, so there the sliders are disabled and show the
# state they were saved with; the player further down works anywhere.

# %% tags=["hide-input"]
live = explorer.Explorer(delta=regime_delta, sigma=angle_sigma, n_train=n_circle // 2, guidance=0.0,
                         live=explorer.interactive_session())
display(live.widget)

# %% [markdown]
# **Static (works anywhere).** For the static page the same drawing was precomputed for a small
# tour of states, one knob at a time (first $\delta$, then $\sigma$, then $N$, then $w$, the others
# held at the values the live explorer starts with, by default $\delta = 1.6$, $\sigma = 1$,
# $N = 10$, $w = 0$); the player below steps through them with plain JavaScript (use its buttons
# or step frame by frame).

# %% tags=["hide-input"]
tour = explorer.precompute_states(
    {"delta": regime_delta, "sigma": angle_sigma, "n_train": n_circle // 2, "guidance": 0.0},
    {"delta": explorer_deltas, "sigma": explorer_sigmas, "n_train": explorer_n_train,
     "guidance": explorer_weights})
display(HTML(explorer.animation_html(tour)))

# %% [markdown]
# ## What the paper shows and what this book measured
#
# The paper introduces this model with the same figures: flow fields with and without error, the
# gap along the circle (zero at training points, maximal between them), the gap against $\sigma$
# for $\delta$ from 2.2 to 1.2, against the number of training points and against the guidance
# weight {cite:p}`kaiser2026diffusion`. Its qualitative conclusions are what the claims below
# test; the numbers printed in this chapter are this book's measurements with the toy model as
# specified (10 + 10 points on a circle of radius 10, {glue:text}`n_noise` noise draws per point, the 120-step EDM
# schedule), not values read off the paper's plots. The toy model is also the bridge to the rest of
# the book: a neural denoiser is an error-prone model whose error shrinks as it trains, and the
# chapters on training and inference gaps ask whether real networks behave like $y_\delta$ with a
# shrinking $\delta$ (compare {cite:t}`bonnaire2025why` on training dynamics, and
# {cite:t}`kamb2024analytic`, {cite:t}`niedoba2025mechanistic` on locality as a concrete form of
# such an error).

# %% [markdown]
# ## Claims
#
# Criteria fixed in the parameters cell before running. C6a: the peak gap decreases as $\delta$
# grows (rank correlation over the $\delta$ values); C6b: it decreases as the training points get
# denser; C6c: the gap is about zero at the smallest and the largest noise level; C6d: autoguidance
# raises it; C6e: the gap peaks at $\sigma \sim \delta$; C6f: the optimal denoiser recalls training
# points exactly; C6g: the error-prone model does not. C6a-e are judged on the 90% bootstrap
# interval over {glue:text}`claim_seeds` noise seeds of every gap curve (the curves above are the
# first), C6f and C6g over the generated points: PASS when the whole interval meets the criterion,
# FAIL when none of it does, INCONCLUSIVE otherwise.

# %%
def claim_statistics(s):
    """C6a-e's statistics from the gap curves drawn with noise seed ``s`` (0: the curves above)."""
    c, dc, gc = (curves, density_curves, guided_curves) if s == 0 else (
        toy_study.delta_curves(train, val, gap_sigmas, deltas, n_noise, seed=s),
        toy_study.density_curves(density_train, gap_sigmas, density_delta, n_noise, seed=s),
        toy_study.guided_curves(train, val, gap_sigmas, delta_pos, delta_neg, guidance_weights, n_noise, seed=s))
    return toy_study.claim_statistics(c, dc, gc, gap_sigmas, deltas, density_train, guidance_weights)


draws = [claim_statistics(s) for s in progress_bar(range(claim_seeds), desc="claim seeds")]

# %%
# NBVAL_CHECK_OUTPUT
stat = {k: [d[k] for d in draws] for k in draws[0]}
recall_first = toy_analysis.recall_flags(endpoints[min(traj_deltas)], random_train, recall_tol).astype(float)
recall_last = toy_analysis.recall_flags(endpoints[max(traj_deltas)], random_train, recall_tol).astype(float)

scale(f"2-D circle, {n_circle // 2} train + {n_circle // 2} val (random circle: {n_random // 2} + "
      f"{n_random - n_random // 2})", n_circle // 2, "analytic smoothed-data denoiser",
      f"{gap_steps}-step EDM sigma grid, {traj_steps} Euler steps")
claim_over_draws("C6a", f"rank correlation of peak gap with delta over {len(deltas)} deltas",
                 stat["rho_delta"], "<=", -rank_criterion)
claim_over_draws("C6b", f"rank correlation of peak gap with N train over N = {min(density_train)}..{max(density_train)}",
                 stat["rho_density"], "<=", -rank_criterion)
claim_over_draws("C6c", "largest |gap| at sigma_max or sigma_min relative to the peak, over all deltas",
                 stat["end_ratio"], "<=", end_criterion, fmt=lambda x: sig3(x, roundoff=True))
claim_over_draws("C6d", f"rank correlation of peak gap with guidance weight w = {min(guidance_weights):g}.."
                 f"{max(guidance_weights):g} (peak {guided_peaks[min(guidance_weights)]['peak_gap']:.3g} -> "
                 f"{guided_peaks[max(guidance_weights)]['peak_gap']:.3g} with seed 0)", stat["rho_guidance"], ">=", rank_criterion)
claim_over_draws("C6e", "worst factor between the peak sigma and delta, over all deltas",
                 stat["peak_off"], "<=", peak_factor)
claim_over_draws("C6f", f"exact-recall fraction (within {recall_tol:g}) of the points generated at delta={min(traj_deltas):g}",
                 recall_first, ">=", 0.95)
claim_over_draws("C6g", f"exact-recall fraction (within {recall_tol:g}) of the points generated at delta={max(traj_deltas):g}",
                 recall_last, "<=", recall_low);
