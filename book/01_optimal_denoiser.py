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
# # The optimal denoiser memorizes
#
# A diffusion model is trained as a denoiser: given a training image $y$ corrupted by Gaussian
# noise, $x = y + \sigma n$ with $n \sim \mathcal N(0, I)$, it predicts $D(x;\sigma) \approx y$ by
# minimizing $\mathbb E\,\lVert D(y + \sigma n;\sigma) - y\rVert^2$ over training images and noise
# levels {cite:p}`karras2022edm`. For a *finite* training set $\{y_1, \dots, y_N\}$ this loss has
# an exact minimizer over all functions, the posterior mean of the clean image given the noisy one
# under the empirical distribution (the "ideal denoiser" of {cite:t}`karras2022edm`, appendix B.3):
#
# $$
# \begin{aligned}
# D^*(x;\sigma) &= \sum_{i=1}^N w_i(x;\sigma)\, y_i, \\
# w_i(x;\sigma) &= \frac{\exp\!\big(-\lVert x - y_i\rVert^2 / 2\sigma^2\big)}
#                        {\sum_{j=1}^N \exp\!\big(-\lVert x - y_j\rVert^2 / 2\sigma^2\big)} .
# \end{aligned}
# $$ (eq-optimal-denoiser)
#
# The weights are a softmax over training points with "temperature" $2\sigma^2$: the posterior
# probability that $x$ was made from $y_i$. The denoiser defines the score of the noisy empirical
# distribution, $\nabla_x \log p_\sigma(x) = (D^*(x;\sigma) - x)/\sigma^2$, so its *flow field*
# $D^*(x;\sigma) - x$ is what the probability-flow sampler
# $\mathrm d x / \mathrm d\sigma = (x - D(x;\sigma))/\sigma$ follows. Because $D^*$ is the exact
# denoiser of the empirical distribution, sampling with it reproduces that distribution: it can only
# return training points. A model that reached the minimum of its training loss would therefore
# generate nothing new. This is the starting point of {cite:t}`kaiser2026diffusion` (their claim
# C1 in this book): real diffusion models *do* generate new images
# {cite:p}`yoon2023diffusion,kadkhodaie2024generalization`, so something keeps them away from the
# optimum. The rest of the book follows the paper's answer; this chapter checks the starting point.
#
# Reading {eq}`eq-optimal-denoiser` at three noise levels gives the whole picture:
#
# - **large $\sigma$** (far above the distances between training points): all weights are about
#   equal, $D^*$ returns the **global mean** of the training set;
# - **intermediate $\sigma$**: a few neighbouring points share the weight, $D^*$ returns
#   **convex combinations of neighbours**, points on the "polygon" between them;
# - **small $\sigma$**: the nearest training point takes all the weight, $D^*$ returns **one
#   training point**: it memorizes.

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
dataset = "digits"      # one of {"digits", "mnist5k", "mnist", "fashion_mnist"}: image dataset (sklearn 8x8 digits, 5000 MNIST digits, or full MNIST / Fashion-MNIST from the data folder, see the README)
n_train = 1000          # int in [50, 69000], at most dataset_size(dataset) - n_val: training images (digits has 1797 images, mnist5k 5000, mnist and fashion_mnist 70000)
n_val = 300             # int in [10, 20000]: held-out validation images
n_samples = 200         # int in [10, 100000]: samples drawn with the optimal denoiser
n_steps = 18            # int in [2, 1000]: Heun steps of the EDM sampler
n_probe = 200           # int in [10, 20000]: noised train images (and as many val images) for the posterior curves
n_sigma_grid = 32       # int in [8, 512]: log-spaced noise levels in [0.002, 80] for the posterior curves
circle_points = 10      # int in [2, 100]: training points equally spaced on the 2-D circle of radius 10
circle_sigmas = [28.0, 2.8, 0.63]  # list of float in (0, 1000]: noise levels of the circle panels
circle_noise = 30       # int in [1, 1000]: noised copies of each training point in the circle panels
copy_criterion = 0.95   # float in [0, 1]: C1a passes if at least this fraction of samples are copies (d1/d2 < 1/3)
distance_criterion = 0.01  # float in (0, 1]: C1b passes if median (nearest-train / nearest-val distance) of samples is below this
sigma_local = 0.1       # float in (0, 80]: noise level at which the posterior's localization is measured (C1c)
weight_criterion = 0.99 # float in [0, 1]: C1c passes if the mean max posterior weight of noised train images at sigma_local is at least this
seed = 0                # int in [0, 2**31-1]: master seed (data split, sampler noise, probe noise)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from diffgen_lib import analytic, data, diffusion, toy
from diffgen_lib.seeds import SAMPLES
from diffgen_lib.measure import memorization, metrics
from diffgen_lib.studies import explorer
from diffgen_lib.book import claim_over_draws, scale, setup_chapter, sig3

params = setup_chapter("01_optimal_denoiser", globals())

# %% [markdown]
# ## On a circle
#
# The paper illustrates {eq}`eq-optimal-denoiser` on points in the plane
# {cite:p}`kaiser2026diffusion`; we use its toy data set, points equally spaced on a circle of
# radius 10. {numref}`fig-od-circle` shows the flow field $D^*(x;\sigma) - x$ as streamlines at
# the paper's three noise levels, together with noisy copies $y_i + \sigma n$ of the training
# points (grey) and where the optimal denoiser sends them (orange). At $\sigma = 28$ all
# predictions sit near the global mean, at $\sigma = 2.8$ on the polygon between neighbouring
# points, and at $\sigma = 0.63$ on single training points; at that noise level the field is
# already a set of basins, one per training point.

# %%
circle_train, _ = toy.circle_data(2 * circle_points)
circle_train_t = torch.from_numpy(circle_train)
gen = torch.Generator().manual_seed(seed)
circle_preds = {}
for s in circle_sigmas:
    noisy = circle_train_t.repeat_interleave(circle_noise, 0)
    noisy = noisy + s * torch.randn(noisy.shape, generator=gen, dtype=torch.float64)
    circle_preds[s] = (noisy.numpy(), analytic.optimal_denoiser(noisy, s, circle_train_t).numpy())

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-od-circle", "caption": "The optimal denoiser of 10 points on a circle. Streamlines: its flow field $D^*(x;\\sigma) - x$ (colour: log10 of its length). Grey: noisy training points $y_i + \\sigma n$ (most lie outside the window at the largest $\\sigma$); orange: their denoised predictions $D^*(y_i + \\sigma n;\\sigma)$, which move from the global mean (left) to the polygon between neighbours (middle) to single training points (right)."}}
fig, axes = plt.subplots(1, len(circle_sigmas), figsize=(3.0 * len(circle_sigmas) + 0.8, 3.4))
for ax, s in zip(np.atleast_1d(axes), circle_sigmas):
    noisy, pred = circle_preds[s]
    stream = explorer.draw_flow(ax, circle_train, s, 0.0, density=0.9, title=f"$\\sigma$ = {s:g}")
    ax.scatter(noisy[:, 0], noisy[:, 1], s=3, color="0.6", zorder=2)
    ax.scatter(pred[:, 0], pred[:, 1], s=10, color="tab:orange", zorder=5)
fig.colorbar(stream.lines, ax=axes, shrink=0.8, label="log10 of the length of $D^* - x$")
plt.show()

# %% [markdown]
# ## On real images
#
# Now the same denoiser on images. We take the training split of the data set (pixel values in
# $[-1, 1]$) and a disjoint validation split, and sample with $D^*$ using the EDM sampler
# {cite:p}`karras2022edm`: Heun's method on the probability-flow ODE over the EDM noise schedule
# from $\sigma_{\max} = 80$ to $\sigma_{\min} = 0.002$, starting from $x_0 \sim \mathcal N(0, 80^2 I)$,
# each sample from its own seeded noise. No network is involved: every step evaluates
# {eq}`eq-optimal-denoiser` exactly over the whole training set.

# %%
splits = data.load_splits(dataset, n_train=n_train, n_val=n_val, n_feature=0, seed=seed)
train_images, val_images = splits.train.images, splits.val.images
image_shape = tuple(train_images.shape[1:])
denoise = analytic.image_denoiser(train_images)
samples = diffusion.generate(denoise, SAMPLES.seeds(n_samples, seed), image_shape, n_steps=n_steps, progress=True)
report = memorization.copy_report(samples, train_images, val_images)
# reference: how far real held-out images are from the training set
val_report = memorization.copy_report(val_images, train_images, val_images[:2])

# %% [markdown]
# Whether a sample is a copy is measured as by {cite:t}`yoon2023diffusion` and
# {cite:t}`gu2023memorization`: with $d_1$ and $d_2$ the distances to its nearest and second-nearest
# training image, a sample is a copy when $d_1 / d_2 < 1/3$. {numref}`fig-od-samples` shows the
# first samples above their nearest training image, and {numref}`fig-od-distances` the
# distribution of the ratio and of the distances: the samples sit *on* training images (distance
# at float precision, ratio about $0$), much closer than to any validation image. Held-out images
# are the reference: a new image of the same kind lies at a typical distance from its nearest
# training image, and about as far from its second-nearest (a ratio well above 1/3).

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-od-samples", "caption": "Samples of the optimal denoiser (upper image of each pair) above their nearest training image (lower image). Every pair is identical: the sampler returns training images."}}
n_show = min(32, n_samples)
tiles = memorization.tile_pairs(samples[:n_show], train_images[torch.as_tensor(report.nearest_train[:n_show])],
                                n_cols=min(16, n_show))
fig, ax = plt.subplots(figsize=(10, 10 * tiles.shape[0] / tiles.shape[1] + 0.4))
cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
ax.imshow(tiles, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
ax.set_axis_off()
plt.show()

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-od-distances", "caption": "Left: memorization ratio $d_1/d_2$ of the samples and, for reference, of held-out validation images with respect to the training set; the dashed line is the copy threshold 1/3. Right: distance of each sample to its nearest training image and to its nearest validation image, and the distance of validation images to their nearest training image."}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
bins = np.linspace(0, 1, 41)
ax1.hist(report.ratio, bins=bins, alpha=0.7, label=f"samples (n={n_samples})")
ax1.hist(val_report.ratio, bins=bins, alpha=0.6, label=f"val images (n={n_val})")
ax1.axvline(metrics.COPY_THRESHOLD, color="k", ls="--", lw=1)
ax1.set(xlabel="$d_1 / d_2$ (to the training set)", ylabel="count")
ax1.legend()
all_d = np.concatenate([report.d_val, val_report.d_train])
bins = np.linspace(0, all_d.max() * 1.05, 41)
ax2.hist(report.d_train, bins=bins, alpha=0.8, label="sample → nearest train")
ax2.hist(report.d_val, bins=bins, alpha=0.6, label="sample → nearest val")
ax2.hist(val_report.d_train, bins=bins, alpha=0.5, label="val image → nearest train")
ax2.set(xlabel="Euclidean distance (pixels in [-1, 1])", ylabel="count")
ax2.legend()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
dist_ratio = float(np.median(report.d_train / report.d_val))
print(f"samples that are copies (d1/d2 < 1/3): {report.copy_fraction:.3g}")
print(f"largest d1/d2 of a sample: {sig3(report.ratio.max(), roundoff=True)}")
print(f"median distance sample -> nearest train: {sig3(np.median(report.d_train), roundoff=True)}")
print(f"median distance sample -> nearest val: {np.median(report.d_val):.3g}")
print(f"median distance val image -> nearest train: {np.median(val_report.d_train):.3g}")
print(f"median (nearest-train / nearest-val distance) of samples: {sig3(dist_ratio, roundoff=True)}")

# %% [markdown]
# ## When does the posterior collapse onto one image?
#
# The sampler starts at large $\sigma$, where $D^*$ averages everything, and ends at small $\sigma$,
# where it returns one training image. Where in between does it commit? We noise $n_\text{probe}$
# training images and as many validation images at a grid of noise levels (each image keeps its
# noise draw across $\sigma$) and look at the posterior weights $w_i$ of
# {eq}`eq-optimal-denoiser`: their maximum (1 when one training image takes everything) and their
# entropy in nats ($0$ for one image, $\log N$ for uniform weights). We call the noise level at
# which the mean maximum weight of noised *training* images reaches $1/2$ the empirical collapse
# level $\sigma_\text{emp}$.
#
# {cite:t}`biroli2024dynamical` predict such a transition, the *collapse* of the noisy empirical
# distribution onto its training points, and estimate it for Gaussian data: it happens when the
# entropy of the noisy data, $\tfrac D2 \log 2\pi e(v + \sigma^2)$ with per-dimension variance
# $v$, falls to that of one noisy training point plus $\log N$:
#
# $$
# \sigma_c^2 \;=\; \frac{v}{N^{2/D} - 1} .
# $$ (eq-collapse)
#
# We evaluate {eq}`eq-collapse` with the per-dimension variance of the training images (the trace
# of their covariance over $D$) and compare it with $\sigma_\text{emp}$ in
# {numref}`fig-od-posterior`.

# %%
sigma_grid = diffusion.log_sigma_grid(n_sigma_grid).numpy()
n_probe_train = min(n_probe, n_train)
n_probe_val = min(n_probe, n_val)
conc_train = memorization.posterior_concentration(train_images[:n_probe_train], train_images, sigma_grid,
                                                  noise_seed=SAMPLES.seed(seed),
                                                  source_index=torch.arange(n_probe_train))
conc_val = memorization.posterior_concentration(val_images[:n_probe_val], train_images, sigma_grid,
                                                noise_seed=SAMPLES.seed(seed, n_probe_train))
# the same measurement at sigma_local, for claim C1c
local_train = memorization.posterior_concentration(train_images[:n_probe_train], train_images, [sigma_local],
                                                   noise_seed=SAMPLES.seed(seed),
                                                   source_index=torch.arange(n_probe_train))
dim = int(np.prod(image_shape))
variance = memorization.per_dimension_variance(train_images)
sigma_biroli = analytic.collapse_sigma(n_train, dim, variance)
sigma_emp_train = memorization.crossing_sigma(sigma_grid, conc_train.max_weight.mean(1), 0.5)
sigma_emp_val = memorization.crossing_sigma(sigma_grid, conc_val.max_weight.mean(1), 0.5)
sampler_sigmas = diffusion.edm_sigmas(n_steps).numpy()

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-od-posterior", "caption": "Concentration of the optimal denoiser's posterior over training images, for noised training images and noised validation images: mean (line) and 10-90 % range (band) of the largest weight (left) and of the entropy of the weights (right; the dotted line is log N, uniform weights). Vertical lines: the empirical collapse level (mean max weight of noised training images = 1/2) and the Gaussian estimate of Biroli et al. (2024); ticks at the top mark the noise levels of the sampler's steps."}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
for conc, name, color in ((conc_train, "noised train", "tab:blue"), (conc_val, "noised val", "tab:red")):
    for ax, values in ((ax1, conc.max_weight), (ax2, conc.entropy)):
        lo, hi = np.quantile(values, [0.1, 0.9], axis=1)
        ax.semilogx(sigma_grid, values.mean(1), color=color, label=name)
        ax.fill_between(sigma_grid, lo, hi, color=color, alpha=0.2, lw=0)
ax2.axhline(np.log(n_train), color="0.4", ls=":", lw=1, label="log N")
for ax in (ax1, ax2):
    ax.axvline(sigma_emp_train, color="k", ls="--", lw=1, label=f"$\\sigma_\\mathrm{{emp}}$ = {sigma_emp_train:.2g}")
    ax.axvline(sigma_biroli, color="tab:green", ls="-.", lw=1.2,
               label=f"Biroli et al. $\\sigma_c$ = {sigma_biroli:.2g}")
    ax.plot(sampler_sigmas, np.full(len(sampler_sigmas), 1.02), "|", color="0.3", ms=8,
            transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xlabel("$\\sigma$")
ax1.set_ylabel("max posterior weight")
ax2.set_ylabel("entropy of the weights (nats)")
ax1.legend(loc="center right", fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(f"per-dimension variance of the training images: {variance:.3g} (D = {dim}, N = {n_train})")
print(f"empirical collapse level (mean max weight = 1/2), noised train images: {sigma_emp_train:.3g}")
print(f"empirical collapse level (mean max weight = 1/2), noised val images:   {sigma_emp_val:.3g}")
print(f"Gaussian collapse estimate of Biroli et al.: {sigma_biroli:.3g}")
print(f"ratio empirical (train) / Gaussian estimate: {sigma_emp_train / sigma_biroli:.3g}")
print(f"sampler steps at or below the empirical collapse level: "
      f"{int((sampler_sigmas <= sigma_emp_train).sum())} of {n_steps}")
print(f"at sigma = {sigma_local:g}: mean max weight, noised train = {local_train.max_weight.mean():.3g}, "
      f"largest weight on the image's own source = {local_train.top_is_source.mean():.3g}")

# %% tags=["hide-input"]
ratio = sigma_emp_train / sigma_biroli
if abs(np.log(ratio)) < np.log(1.05):
    relation = "agree within 5 %"
else:
    relation = (f"differ: the Gaussian estimate is {abs(1 / ratio - 1) * 100:.0f} % "
                + ("higher" if ratio < 1 else "lower") + " than the empirical level")
display(Markdown(
    f"In this run the empirical collapse level of noised training images is "
    f"$\\sigma_\\mathrm{{emp}} = {sigma_emp_train:.2g}$ and the Gaussian estimate is "
    f"$\\sigma_c = {sigma_biroli:.2g}$: they {relation}. "
    f"Noised validation images reach a max weight of 1/2 at $\\sigma = {sigma_emp_val:.2g}$."))

# %% [markdown]
# How to read the comparison. The Gaussian estimate {eq}`eq-collapse` is an order-of-magnitude
# guide and it is about the *distribution* (an entropy criterion for the whole noisy empirical
# measure), while $\sigma_\text{emp}$ is a particular threshold (max weight 1/2) on particular
# inputs. The two need not coincide, and a close agreement on one data set would be partly luck:
# the estimate depends on the data only through $v$, $N$ and $D$, while
# the real transition depends on how the training images are arranged: digits, like all natural
# images, lie near a low-dimensional set, not in a Gaussian cloud of full dimension
# {cite:p}`biroli2024dynamical,kadkhodaie2024generalization`. Above the collapse level the posterior
# is spread over many training images for train and val inputs alike; below it, a noised
# *training* image is assigned to its own source (its weight goes to 1 on that image) and, a little
# lower still, a noised *validation* image is assigned just as confidently to a *different*
# training image, its nearest neighbour. That second fact is what the optimal denoiser's "generalization gap" is made
# of, and why the last steps of the sampler, all of them below the collapse level, can only land on
# training images.
#
# What the paper shows and what this book measured. The paper uses the optimal denoiser's
# memorization as its premise and shows it on the 2-D toy (the flow fields and the predictions at
# $\sigma \approx 28, 2.8, 0.63$ of {numref}`fig-od-circle`) {cite:p}`kaiser2026diffusion`; the
# collapse picture is that of {cite:t}`biroli2024dynamical`. Here we additionally measured it on
# real images: every sample of the optimal denoiser is a training image, and the posterior
# collapses onto single training images below a noise level of the same order as the Gaussian
# estimate. Why trained networks nevertheless generate new images, even though they approach this
# denoiser on their own training images {cite:p}`gu2023memorization,bonnaire2025why`, is the
# subject of the following chapters; smoothing the empirical score is one way to break the
# memorization analytically {cite:p}`scarvelis2023closed`, and the locality of convolutional
# denoisers is another {cite:p}`kamb2024analytic,niedoba2025mechanistic`.

# %% [markdown]
# ## Claims
#
# The criteria below were fixed in the parameters cell before running: C1a, most samples are
# copies; C1b, samples are (up to float precision) at distance 0 from a training image compared
# with their distance to the nearest validation image; C1c, at a small noise level the posterior
# of noised training images sits on one training image. Each criterion is judged on the 90%
# bootstrap interval over the samples (C1a, C1b) or the probes (C1c): PASS when the whole
# interval meets it, FAIL when none of it does, INCONCLUSIVE otherwise.

# %%
# NBVAL_CHECK_OUTPUT
scale(f"{dataset} (8x8)" if dataset == "digits" else f"{dataset} (28x28)", n_train,
      "analytic optimal denoiser", f"{n_steps} Heun steps, {n_samples} samples")
claim_over_draws("C1a", "fraction of optimal-denoiser samples that are copies (d1/d2 < 1/3)",
                 (report.ratio < metrics.COPY_THRESHOLD).astype(float), ">=", copy_criterion)
claim_over_draws("C1b", "distance to nearest train image / distance to nearest val image, over samples",
                 report.d_train / report.d_val, "<", distance_criterion, statistic="median",
                 fmt=lambda x: sig3(x, roundoff=True))
claim_over_draws("C1c", f"max posterior weight of noised train images at sigma={sigma_local:g}",
                 np.asarray(local_train.max_weight, dtype=float), ">=", weight_criterion);
