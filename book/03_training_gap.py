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
# # A neural denoiser overfits the denoising objective
#
# The optimal denoiser of a finite training set memorizes (first chapter); an error-prone model of
# it generalizes, with a gap between training and validation error that is largest at noise levels
# comparable to its error (second chapter). This chapter measures that gap on a real network. A
# diffusion model is trained by minimizing the denoising error
# $\mathbb E\,\lVert D(y + \sigma n;\sigma) - y\rVert^2$ over training images $y$, noise $n$ and
# noise levels $\sigma$ {cite:p}`karras2022edm`; like any regression, it can fit its training
# images better than images it has never seen. {cite:t}`kaiser2026diffusion` measure this
# *training gap* per noise level and report two facts that this chapter checks at a scale that
# runs on a laptop:
#
# - **C2** the relative gap $(E_\text{val} - E_\text{train})/E_\text{train}$ grows with training
#   time and with model size: the network progressively overfits its objective;
# - **C3** the gap is localized in noise level: about zero at very small and at large $\sigma$,
#   peaked in between (on ImageNet-64 with $\sigma_\text{data} = 0.5$, at $\sigma \approx 0.6$-$2$).
#
# The runs trained here (the main run, the training-set sizes and the class-conditional run) are
# the book's shared networks: the chapters on inference, trajectories and factors load them from
# the cache rather than training again.

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
dataset = "digits"       # run parameter: image dataset (8x8 digits; 5000 MNIST digits at 28x28 or 14x14; full MNIST, Fashion-MNIST and CIFAR-10 from the data folder, see the README)
n_train = 300            # run parameter: training images of the main run (797 of the 1797 digits with the defaults)
n_val = 500              # run parameter: val images held out of training (with n_feature, they decide which images are train images)
n_feature = 500          # run parameter: images held out of train and val that train the feature classifier of the metrics
model = "small"          # run parameter: U-Net preset (experiments.MODEL_PRESETS): the book's CPU-sized network, or DDPM++-sized for 32x32 images
channels = 32            # run parameter: U-Net base width of the main run
steps = 1500             # run parameter: training steps of every run (batch_size images each); 6 evenly spaced snapshots are kept
batch_size = 64          # run parameter: training images per step of every run
precision = "fp32"       # run parameter: training arithmetic of every run (bf16: autocast with fp32 weights, for GPUs)
compile = False          # run parameter: torch.compile the networks for training (GPU runs; minutes of compilation per run)
n_eval = 200             # run parameter: train images and as many val images of the error measurement (capped by the training-set and val sizes)
scale2_dataset = "mnist5k14"  # run parameter: dataset of the second-scale run (5000 MNIST digits at 14x14, 196 dimensions)
scale2_n_train = 1000    # run parameter: training images of the second-scale run
scale2_steps = 6000      # run parameter: training steps of the second-scale run (6 evenly spaced snapshots)
scale2_threads = 0       # run parameter: CPU threads the second-scale runs train with (0: one, as every run of the book)
widths = [8, 16, 32]     # list of int in [4, 512]: U-Net base widths of the model-size runs (equal steps; 32 is the main run)
size_trains = [150, 300, 600]  # list of int in [50, 69000], at most dataset_size(dataset) - n_val - n_feature: training-set sizes of the dataset-size runs (equal steps)
scale2_sizes = [300]     # list of int in [50, 69000], at most dataset_size(scale2_dataset) - n_val - n_feature, may be empty: training-set sizes of further second-scale runs beside scale2_n_train (equal steps; the next chapters compare them)
n_recon = 6              # int in [1, 32]: train images and as many val images in the reconstruction grid
device = "auto"          # run parameter: where networks train and run
rank_criterion = 0.8     # float in (0, 1]: C2a passes if the rank correlation of the peak gap with the training step over the snapshots is at least this ...
growth_criterion = 0.1   # float in [0, 100]: ... and the peak gap grows by more than this from the first snapshot to the last
width_factor = 1.5       # float in [0, 100]: C2b passes if peak gap (largest width) / peak gap (smallest width) at the last step is > this
end_fraction = 0.1       # float in (0, 1]: C3 passes if |gap| at the smallest and at the largest sigma is at most this fraction of the peak (last snapshot) ...
peak_margin = 1          # int in [1, 31]: ... and the peak lies at least this many grid points inside the 64-point sigma grid
seed = 0                 # int in [0, 2**31-1]: training seed of every run (the first of the seed runs)
n_seeds = 3              # run parameter: training seeds seed, seed + 1, ... of the main run and of the smallest and largest width; C2 and C3 are judged on the 90% interval over them
scale2_n_seeds = 3       # run parameter: training seeds seed, seed + 1, ... of the second-scale run (C2a and C3 there; the next chapters judge C4 and C5 over them)

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from diffgen_lib import analytic, train
from diffgen_lib.measure import evaluation, summaries
from diffgen_lib.studies import book_runs, gap_figures, gap_prose, gap_study, gap_tables, training_gap
from diffgen_lib.networks import count_parameters
from diffgen_lib.book import glue_values, scale, setup_chapter, show_table

params = setup_chapter("03_training_gap", globals())
glue_values(params)
# Every run of the chapter: the main run, one per width and per training-set size, the class-conditional
# run, the seed runs (the main run, whose first seed is the main run itself, the one later chapters
# load, and the extreme widths of claim C2b, each trained with n_seeds training seeds) and the second
# scale's run, its training-set sizes and its training seeds.
configs = gap_study.chapter_configs(params)
seed_list = list(configs.seeds)

# %% [markdown]
# ## The measurement
#
# The network is the library's small U-Net (two resolution levels, base width {glue:text}`channels`), in
# EDM's preconditioning $D(x;\sigma) = c_\text{skip}\,x + c_\text{out}\,F(c_\text{in}\,x, c_\text{noise})$,
# trained with EDM's loss: $\ln\sigma \sim \mathcal N(-1.2, 1.2^2)$ and the weight
# $\lambda(\sigma) = (\sigma^2 + \sigma_\text{data}^2)/(\sigma\,\sigma_\text{data})^2$
# {cite:p}`karras2022edm`, with $\sigma_\text{data}$ the standard deviation of the training pixels.
# Adam, batches of {glue:text}`batch_size`; six evenly spaced snapshots of the weights are kept, each
# with the raw weights and their exponential moving average (EMA, below).
#
# The error is measured as in the paper {cite:p}`kaiser2026diffusion`: at 64 noise levels log-spaced in
# $[0.002, 80]$, on a fixed set of training images and an equally large fixed set of validation
# images, each image with its own noise vector $n_j$ that is the *same* at every $\sigma$ and for
# every snapshot, the unweighted per-sample mean squared error
#
# $$
# E(\sigma) = \frac1{M}\sum_{j=1}^M \frac1D\,\big\lVert D(y_j + \sigma n_j;\sigma) - y_j\big\rVert^2,
# \qquad
# \mathrm{gap}(\sigma) = \frac{E_\text{val}(\sigma) - E_\text{train}(\sigma)}{E_\text{train}(\sigma)} .
# $$ (eq-training-gap)
#
# The *overfitting threshold* is the gap at the snapshot where the validation error is smallest,
# separately at each $\sigma$: the gap a practitioner who stops training at the best validation
# loss would accept.
#
# The main run (and, for C2b, the narrowest and the widest network) is trained with
# {glue:text}`n_seeds` training seeds, {glue:text}`seed` and the following ones (the first is the
# main run itself, which the later chapters load): the claims are judged on the mean over the seeds
# and its 90% percentile-bootstrap interval. Every run keeps the exponential moving average of its
# weights beside the raw weights (EDM's schedule, below); the claims read the raw weights.
#
# Training (or loading) the run and measuring all snapshots:

# %%
# every run of this chapter; the missing ones trained two at a time, longest first (`make book`
# trains them before the chapters run, so here they are loaded)
book_runs.train_together(configs.all())
main = train.train(configs.main)
curves = evaluation.gap_curves(main, n_eval=n_eval)
seed_curves = gap_study.curves_of(configs.seeds, n_eval)
band = training_gap.seed_band([c.gap[-1] for c in seed_curves.values()])
sd = main.sigma_data
sig = curves.sigmas
peaks = summaries.peaks(sig, curves.gap)
last = peaks["index"][-1]


# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.snapshot_rows(curves, peaks, sd),
           "tbl-gap-snapshots",
           f"The main run ({dataset}, {len(main.splits.train)} training and {len(main.splits.val)} validation images of "
           f"{'x'.join(map(str, main.splits.image_shape[1:]))} pixels, sigma_data = {sd:.3g}, "
           f"{count_parameters(main.denoiser) / 1e6:.2f}M parameters): every snapshot's peak gap, where it lies, the two "
           f"errors there and the overfitting threshold at that sigma; {curves.n_eval} + {curves.n_eval} evaluation images.")

# %% [markdown]
# {numref}`fig-gap-sigma` is the chapter's main result: the relative gap against $\sigma$ for every
# snapshot of the main run, coloured by training time, with the overfitting threshold, and the
# spread of the last snapshot's curve over the {glue:text}`n_seeds` training seeds.

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-sigma", "caption": "Relative gap (val - train) / train of the denoising error against the noise level, one curve per snapshot of the main run (colour: training step), and the overfitting threshold (dashed: the gap at the snapshot with the smallest validation error, per sigma). Grey band: smallest to largest gap of the last snapshot over the training seeds. Dotted: sigma_data; top axis: sigma / sigma_data."}}
gap_figures.gap_snapshots_figure(curves, peaks, band, n_seeds, sd)
plt.show()

# %% [markdown]
# The training seeds, each at its last snapshot, with the statistics of the claims below: the
# peak gap and where it lies, the gap at the two ends of the $\sigma$ grid relative to the peak,
# and the rank correlation of the peak gap with the training step over the snapshots.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
seed_stats = gap_study.seed_statistics(seed_curves, peak_margin)
show_table(gap_tables.seed_rows(seed_stats, seed_list), "tbl-gap-seeds",
           "The main run with each training seed, last snapshot: the peak gap and where it lies, the gap at the two ends "
           "of the sigma grid relative to the peak, and the rank correlation of the peak gap with the training step.")

# %% [markdown]
# ## Raw weights and their EMA
#
# EDM keeps an exponential moving average of the weights during training and samples with it
# {cite:p}`karras2022edm`; the networks that {cite:t}`kaiser2026diffusion` measure are such EMA
# networks. Every run here keeps one beside its raw weights, with EDM's schedule: after each step
# $\theta_\text{EMA} \leftarrow \beta\,\theta_\text{EMA} + (1 - \beta)\,\theta$ with
# $\beta = 0.5^{B/h}$ for batches of $B$ images and a half-life of $h$ images, $h$ = EDM's
# {glue:text}`ema_halflife_kimg` thousand images but at most {glue:text}`ema_rampup_ratio` times the
# images seen so far (EDM's ramp-up). This chapter's runs see {glue:text}`ema_images` images in
# all, so at the last snapshot the half-life is {glue:text}`ema_halflife_steps` steps. Because the
# average is computed beside the weights and draws no random numbers, the raw weights are exactly
# those of a run without it. {numref}`fig-gap-ema` measures both, for every training seed, on the
# same images with the same noise.

# %%
ema_curves = gap_study.curves_of(configs.seeds, n_eval, weights="ema")
ema_band = training_gap.seed_band([c.gap[-1] for c in ema_curves.values()])
ema_h = gap_study.ema_halflife_images(configs.main, steps, batch_size)
glue_values({"ema_halflife_kimg": configs.main.ema_halflife_kimg, "ema_rampup_ratio": configs.main.ema_rampup_ratio,
             "ema_images": steps * batch_size, "ema_halflife_steps": f"{ema_h / batch_size:.0f}"})

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-ema", "caption": "Raw weights (blue) against their EMA (orange). Left: relative gap of the last snapshot against the noise level, mean over the training seeds with the band from the smallest to the largest. Right: the peak gap of every snapshot against the training step, mean over the seeds, bars from the smallest to the largest."}}
gap_figures.ema_figure(sig, curves.steps, {"raw": band, "EMA": ema_band},
                       {"raw": gap_study.peaks_of(seed_curves), "EMA": gap_study.peaks_of(ema_curves)}, seed_list)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
ema_stats = gap_study.seed_statistics(ema_curves, peak_margin)
show_table(gap_tables.weights_rows({"raw": seed_stats, "EMA": ema_stats}, seed_list), "tbl-gap-ema", f"Raw weights and their EMA, last snapshot: mean over the {n_seeds} training seeds "
           "(smallest .. largest).")

# %% tags=["hide-input"]
display(Markdown(gap_prose.ema_text(seed_stats["c3"], ema_stats["c3"], seed_list)))

# %% [markdown]
# At the noise level where the last snapshot's gap peaks, {numref}`fig-gap-time` follows the two
# errors and their gap through training. A network that overfits shows the classic picture: the
# training error keeps falling while the validation error stops falling or turns upward.

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-time", "caption": "At the peak noise level of the last snapshot: left, the denoising error of the training and of the validation images against the training step; right, their relative gap."}}
gap_figures.gap_time_figure(curves, last, sd)
plt.show()

# %% tags=["hide-input"]
display(Markdown(gap_prose.peak_time_text(curves, peaks["peak_gap"], last, sd)))

# %% [markdown]
# ## The perfect memorizer as a reference
#
# How far is the network from memorizing? The optimal denoiser of the training split (first
# chapter) is the minimizer of the training loss over all functions: it reaches the smallest
# possible training error and, below the noise level at which noisy images can be told apart, sends
# every noisy image to a training image. Measured with exactly the same images, noise and grid
# ({numref}`fig-gap-optimal`), it bounds what overfitting can do: its training error is the floor
# that the network's training error approaches if it memorizes, and its validation error shows what
# memorizing costs on new images.

# %%
optimal = evaluation.optimal_curves(main, n_eval=n_eval)  # the perfect memorizer, one curve
opt_tr, opt_va = optimal.train_error[0], optimal.val_error[0]

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-optimal", "caption": "Denoising error against the noise level for the network's last snapshot (solid) and for the optimal denoiser of the same training set (dashed), on training (blue) and validation (orange) images; the dotted grey line is sigma^2, the error of returning the noisy input. Right: the network's training error divided by the optimal denoiser's, and the same for validation."}}
gap_figures.optimal_figure(curves, optimal, sd)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.optimal_rows(curves, optimal, (0.01, 0.1, float(sig[last]), sd, 1.0, 10.0)),
           "tbl-gap-optimal", "Denoising errors of the network's last snapshot and of the optimal denoiser of "
           "the same training set, on the same images with the same noise, at a few noise levels (including the "
           "network's peak and sigma_data), and their relative gaps.")

# %% tags=["hide-input"]
display(Markdown(gap_prose.memorizer_text(curves, optimal, last)))

# %% [markdown]
# ## Reconstructions
#
# What overfitting looks like. {numref}`fig-gap-recon` shows $D(y + \sigma n;\sigma)$ at the peak
# noise level for a few training and a few validation images (the first ones of the evaluation
# sets, with their evaluation noise), for every snapshot and for the optimal denoiser. The
# distances below the figure make it quantitative: the mean squared distance per pixel of a
# reconstruction to its own clean image, and to the nearest *other* training image.

# %%
recon = training_gap.reconstructions(main, float(sig[last]), n_images=n_recon, n_eval=n_eval)
recon_opt = training_gap.reconstructions(
    main, float(sig[last]), n_images=n_recon, n_eval=n_eval,
    denoisers={"optimal": analytic.image_denoiser(main.splits.train.images)})

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-recon", "caption": "Reconstructions D(y + sigma n; sigma) at the peak noise level of the last snapshot. Left block: training images; right block: validation images. Rows: clean image, noisy input, the snapshots in training order, the optimal denoiser of the training set."}}
gap_figures.reconstruction_figure(recon, recon_opt, n_recon)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
o = "optimal"
show_table(gap_tables.reconstruction_rows(recon, recon_opt, o), "tbl-gap-recon",
           f"Mean squared distance per pixel of the reconstructions at sigma = {recon.sigma:.3g}: of training images to "
           f"their own image and to the nearest other training image, of validation images to their own image and to "
           f"the nearest training image.")

# %% tags=["hide-input"]
display(Markdown(gap_prose.reconstruction_text(recon, recon_opt, o)))

# %% [markdown]
# ## Why the peak sits where it does
#
# The second chapter's toy model predicts the shape: no gap where the noise is so large that the
# denoiser averages over many training images (train and val images are denoised to about the same
# blurry mean), no gap where the noise is so small that the denoiser is close to the identity
# (it returns its input, train or val alike), and a gap in between, where a noisy image can be
# attributed to one training image or to a few. The relevant scale is the spacing of the training
# images relative to the noise. Noise of standard deviation $\sigma$ in $D$ dimensions has norm
# about $\sigma\sqrt D$, so the nearest-neighbour distance $d_\text{NN}$ between images corresponds
# to a per-pixel noise level $d_\text{NN}/\sqrt D$. A sharper estimate of where noisy images become
# attributable: for $x = y_i + \sigma n$ the log posterior odds of $y_i$ against a training image at
# distance $d$ are $d^2/2\sigma^2 + (d/\sigma)\,n\cdot u$, so one image wins against the other
# $N - 1$ once $d^2/2\sigma^2 \gtrsim \ln N$, i.e. below $\sigma \approx d/\sqrt{2\ln N}$; taking
# the half-distance from a validation image to its nearest training image as $d$ gives
# $\sigma_\text{res} = d_\text{val}/(2\sqrt{2\ln N})$, printed below as "resolve sigma"
# {cite:p}`biroli2024dynamical`.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
sp = training_gap.spacing(main.splits.train.images, main.splits.val.images, sd)
show_table(gap_tables.spacing_rows(sp, sig[last]), "tbl-gap-spacing",
           "The spacing of the training images (median nearest-neighbour distances) and the resolve level against the "
           "last snapshot's peak.")

# %% tags=["hide-input"]
display(Markdown(gap_prose.spacing_text(sp, sig[last])))

# %% [markdown]
# ## Model size
#
# Three U-Nets of different base width, trained for the same number of steps on the same data
# ({numref}`fig-gap-width`).

# %%
width_runs = {w: train.train(c) for w, c in configs.widths.items()}
width_curves = {w: evaluation.gap_curves(run, n_eval=n_eval) for w, run in width_runs.items()}
width_peaks = gap_study.peaks_of(width_curves)


def width_label(w):
    return f"width {w} ({count_parameters(width_runs[w].denoiser) / 1e6:.2f}M)"

# %% tags=["remove-input"]
display(Markdown(gap_prose.widths_text({w: count_parameters(r.denoiser) for w, r in width_runs.items()})))


# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-width", "caption": "Model size. Left: relative gap against the noise level after the same number of steps, for three U-Net widths. Right: the peak gap against the training step."}}
gap_figures.comparison_figure(width_curves, width_peaks, width_label, "peak gap through training", steps, sd)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.comparison_rows(width_curves, width_peaks, width_label),
           "tbl-gap-width", "Model size: the peak gap of every snapshot and where the last one lies, per U-Net width.")

# %% [markdown]
# For claim C2b the narrowest and the widest network are trained with each of the
# {glue:text}`n_seeds` training seeds (the widest of the default widths is the main run itself):
# the peak gap of each at the last snapshot and their ratio, per seed.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
width_seed_curves = gap_study.curves_of(configs.width_seeds, n_eval)
width_seed_peaks = gap_study.peaks_of(width_seed_curves)
w_lo, w_hi = min(widths), max(widths)
show_table(gap_tables.width_seed_rows(width_seed_peaks, w_lo, w_hi, seed_list), "tbl-gap-width-seeds",
           "The narrowest and the widest network with each training seed: the last snapshot's peak gap and their ratio.")

# %% [markdown]
# ## Training-set size
#
# Three training-set sizes at the same number of steps and batch size, so the smaller sets are
# seen for more epochs (the legend of {numref}`fig-gap-size` gives them). The validation set is the same for all three, and the smaller
# training sets are subsets of the larger ones. The smallest set has fewer than {glue:text}`n_eval` images, so
# its errors are measured on all of its images and on as many validation images.

# %%
size_curves = gap_study.curves_of(configs.sizes, n_eval)
size_peaks = gap_study.peaks_of(size_curves)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-size", "caption": "Training-set size at equal steps (so more epochs for smaller sets). Left: relative gap against the noise level at the last snapshot. Right: the peak gap against the training step."}}
gap_figures.comparison_figure(size_curves, size_peaks, lambda n: f"N = {n} ({steps * batch_size / n:.0f} epochs)",
                              "peak gap through training", steps, sd)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.comparison_rows(size_curves, size_peaks, lambda n: f"N = {n}"), "tbl-gap-size",
           "Training-set size at equal steps: the peak gap of every snapshot and where the last one lies.")

# %% [markdown]
# ## Class-conditional against unconditional
#
# The same network and budget with the digit class as an input (dropped with probability 0.1
# during training, so that the same network also serves classifier-free guidance in a later
# chapter), measured on the same images with their true labels ({numref}`fig-gap-class`).

# %%
class_run = train.train(configs.class_conditional)
class_curves = evaluation.gap_curves(class_run, n_eval=n_eval)
cond_curves = {"unconditional": curves, "class-conditional": class_curves}
cond_peaks = gap_study.peaks_of(cond_curves)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-class", "caption": "Class-conditional against unconditional training at equal budget. Left: relative gap against the noise level at the last snapshot. Right: the peak gap against the training step."}}
gap_figures.comparison_figure(cond_curves, cond_peaks, lambda name: name, "peak gap through training", steps, sd)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.comparison_rows(cond_curves, cond_peaks, lambda name: name), "tbl-gap-class",
           "Class-conditional against unconditional training: the peak gap of every snapshot and where the last one lies.")

# %% [markdown]
# ## A second scale
#
# In 64 dimensions single training images become distinguishable already at small noise: the
# resolve level above is a fraction of $\sigma_\text{data}$, and so is the peak of the gap. The
# paper's peak sits at $1.2$-$4\,\sigma_\text{data}$. More dimensions move the resolve level up
# (noise of a given $\sigma$ hides less of an image's identity when there are more pixels to
# compare), so the book trains the same recipe once more on {glue:text}`scale2_n_train` MNIST
# digits at 14x14 ({glue:text}`scale2_dataset`, 196 dimensions) for {glue:text}`scale2_steps` steps,
# the *second scale* of the following chapters, which measure inference there too, and once more
# on {glue:text}`scale2_sizes` of those digits for the same steps, so that they can compare
# training-set sizes at this scale as well. {numref}`fig-gap-scales` puts their gaps beside the main
# run's, against $\sigma/\sigma_\text{data}$.

# %%
scale2_run = train.train(configs.scale2)
scale2_curves = evaluation.gap_curves(scale2_run, n_eval=n_eval)
scale_runs = gap_study.scale_runs(configs, main, curves, scale2_run, scale2_curves, n_eval)
size1, size2 = ("x".join(map(str, r.splits.image_shape[1:])) for r in (main, scale2_run))  # e.g. 8x8 and 14x14
scale_spacing = {name: training_gap.spacing(r.splits.train.images, r.splits.val.images, r.sigma_data)
                 for name, (r, _) in scale_runs.items()}
scale_peaks = gap_study.peaks_of({name: c for name, (_, c) in scale_runs.items()})
# the second-scale run with each training seed (C2a and C3 there), with the exchanged null and the optimal denoiser
scale2_seed_runs = {s: train.train(c) for s, c in configs.scale2_seeds.items()}
scale2_seed_curves = {s: evaluation.gap_curves(r, n_eval=n_eval) for s, r in scale2_seed_runs.items()}
scale2_exchanged = {s: evaluation.exchanged_curves(r, n_eval=n_eval) for s, r in scale2_seed_runs.items()}
scale2_optimal = evaluation.optimal_curves(scale2_run, n_eval=n_eval)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-gap-scales", "caption": "The two scales. Left: relative gap against the noise level in units of sigma_data at the last snapshot, 8x8 digits (main run) and the second scale's digits (14x14 MNIST; 28x28 on the pages at 28x28), one run per training-set size; dotted: each run's resolve level. Right: the peak gap against the fraction of training done."}}
gap_figures.scales_figure(scale_runs, scale_spacing, scale_peaks)
plt.show()

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.scale_rows(scale_runs, scale_spacing, scale_peaks), "tbl-gap-scales",
           "The two scales: dimension, training-set size, steps and epochs, the peak gap of every snapshot, and the last "
           "snapshot's peak and the resolve level relative to sigma_data.")

# %% tags=["hide-input"]
display(Markdown(gap_prose.scales_text(
    (size1, size2), (sig[last] / sd, scale2_curves.peak()["peak_sigma"] / scale2_run.sigma_data),
    (scale_spacing["main run"].resolve_sigma / sd, scale_spacing["second scale"].resolve_sigma / scale2_run.sigma_data),
    scale2_n_train, len(scale2_seed_runs))))

# %% [markdown]
# ## Compared with the paper
#
# On ImageNet-64 with EDM2 networks {cite:t}`kaiser2026diffusion` find the relative training gap
# peaked at $\sigma \approx 0.6$-$2$ ($1.2$-$4\,\sigma_\text{data}$ with $\sigma_\text{data} = 0.5$),
# growing almost linearly with training to about $0.23$ at $\sigma \approx 1.67$ after 2147M
# training images, and about zero at the ends of the noise range. The comparison with this
# chapter's numbers (below) is one of shape, not of size: the digits are tiny ($D = 64$) and few,
# so a network sees each training image hundreds of times and overfits far more strongly than an
# ImageNet model that sees each of over a million images a few hundred times. Where the peak sits
# relative to $\sigma_\text{data}$ is not universal either: it follows the noise level at which a
# noisy image can be attributed to a few training images, which depends on how densely the
# training images fill the space relative to their spread (the second chapter's toy model shows
# the same dependence on the density of training points). Neither the paper's nor this book's
# number is a constant of diffusion models.

# %% tags=["hide-input"]
display(Markdown(gap_prose.summary_text(peaks["peak_gap"][-1], sig[last], sd, steps, batch_size, n_train, sp)))

# %% [markdown]
# **The ends of the noise range.** At large $\sigma$ the gap vanishes as the paper reports: both
# sets are denoised towards the same blurry average. At the *smallest* $\sigma$ it need not
# vanish with EDM's preconditioning. For $\sigma \ll \sigma_\text{data}$,
# $c_\text{skip} \approx 1$ and $c_\text{out} \approx \sigma$, so
# $D(y + \sigma n;\sigma) - y \approx \sigma\,\big(n + F(c_\text{in}x, c_\text{noise})\big)$:
# both errors scale as $\sigma^2$ and their *relative* gap tends to a constant set by the network's
# raw output $F$ at a noise level that training almost never visits
# ($\ln\sigma \sim \mathcal N(-1.2, 1.2^2)$ puts $\sigma = 0.002$ more than four standard deviations
# below the mean). A residual gap there is an extrapolation of the network, not a sign that it
# fits the training images at that noise level: both errors stay close to $\sigma^2$,
# the error of returning the noisy input unchanged. The table below shows it for this run.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
show_table(gap_tables.end_rows(curves, (0, 1, 2, len(sig) - 1)),
           "tbl-gap-ends", "The ends of the noise range, last snapshot: both errors relative to sigma^2 (the error of "
           "returning the noisy input), the gap, and the gap of every snapshot there.")

# %% [markdown]
# **Running at larger scale.** Every number here comes from parameters: on a GPU, e.g.
# `python -m diffgen_lib.book run 03_training_gap -p dataset mnist5k14 -p n_train 2000 -p size_trains "[1000, 2000, 4000]" -p steps 20000 -p device cuda`
# (14x14 MNIST digits, 196 dimensions) or `-p dataset mnist5k` for 28x28 digits (784 dimensions,
# closer to the regime of the paper), with `-p widths "[32, 64, 128]"` for a wider range of model
# sizes. The other chapters share the runs of this one only when they are given the same
# parameters.

# %% [markdown]
# ## Claims
#
# Criteria fixed in the parameters cell before running, each judged on the mean over the training
# seeds and its 90% percentile-bootstrap interval, beside a positive control (a setting in which
# the claim is false, measured and judged the same way; a claim whose control does not FAIL is
# INCONCLUSIVE):
#
# - **C2a** (the gap grows with training): the rank correlation of the peak gap (the maximum over
#   $\sigma$ of each snapshot's curve) with the training step is at least {glue:text}`rank_criterion`,
#   and the peak gap grows by more than {glue:text}`growth_criterion` from the first snapshot to the
#   last. The second part is there because a rank correlation alone is met by a curve of noise that
#   happens to rise. Control: the *exchanged null*, the same snapshots measured on two sets of
#   images none of them was trained on, one in the training images' place: its gap cannot grow.
# - **C2b** (a larger network overfits more): the widest network's peak gap after the same steps
#   is more than {glue:text}`width_factor` times the narrowest's. Control: two networks of the same
#   (widest) width and different training seeds. Their ratio is 1 up to the noise of training
#   (the main run's peak gap moves by about 20% between its seeds), so a threshold of 1 could be
#   met by networks of equal size; 1.5 cannot.
# - **C3** (the gap is peaked in noise level): the last snapshot's peak lies at least
#   {glue:text}`peak_margin` grid point(s) inside the $\sigma$ grid for every seed, and the gap at
#   both ends of the grid is at most {glue:text}`end_fraction` of the peak. Control: the optimal
#   denoiser's curve ({numref}`fig-gap-optimal`), the perfect memorizer, whose gap grows without
#   bound as $\sigma$ falls.
#
# At the second scale C2a and C3 are judged the same way over its {glue:text}`scale2_n_seeds`
# training seeds; C2b needs several widths and is judged on the first scale only.

# %%
# NBVAL_CHECK_OUTPUT
w_lo, w_hi = min(widths), max(widths)
exchanged = {s: evaluation.exchanged_curves(train.train(c), n_eval=n_eval) for s, c in configs.seeds.items()}
width_last = {k: p["peak_gap"][-1] for k, p in width_seed_peaks.items()}
records = {"first": [training_gap.c2a(seed_curves, exchanged, rank_criterion, growth_criterion),
                     training_gap.c2b(width_last, w_lo, w_hi, seed_list, width_factor),
                     training_gap.c3(seed_curves, optimal, end_fraction, peak_margin)],
           "second": [training_gap.c2a(scale2_seed_curves, scale2_exchanged, rank_criterion, growth_criterion),
                      training_gap.c3(scale2_seed_curves, scale2_optimal, end_fraction, peak_margin)]}
scale(dataset, n_train, f"U-Net {count_parameters(main.denoiser) / 1e6:.2f}M params (widths {', '.join(map(str, widths))})",
      f"{steps} steps, {n_seeds} training seeds")
for r in records["first"]:
    print(r.line())
scale(scale2_dataset, scale2_n_train, f"U-Net {count_parameters(scale2_run.denoiser) / 1e6:.2f}M params",
      f"{scale2_steps} steps, {len(scale2_seed_runs)} training seed" + "s" * (len(scale2_seed_runs) != 1))
for r in records["second"]:
    print(r.line())

# %% tags=["hide-input"]
show_table(gap_tables.control_rows(records, {"first": size1, "second": size2}), "tbl-c2-controls",
           "Each claim beside its positive control, judged by the same criteria (mean [90% interval] over the "
           "training seeds): a claim is only decided when its control FAILs.")
