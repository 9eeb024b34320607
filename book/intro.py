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
# # Diffusion models generalize, but not in the way you might think
#
# This book reproduces, at a scale that runs on two CPU cores, the measurements of Kaiser and
# Kollmann, *Diffusion Models Generalize but Not in the Way You Might Think*
# {cite:p}`kaiser2026diffusion`, and says plainly which claims held and with what numbers. Every
# chapter is an executable notebook: it states a claim of the paper, fixes a criterion in advance,
# measures with 90% intervals over the repeats it has (training seeds, sample seeds, reference
# draws; each claim line says which), and runs the same test on a *positive control*, a setting in
# which the claim is false, to show that the test could have failed. The same code scales up by its parameters (dataset, model size, training steps,
# device) on a GPU.
#
# ## What this book found
#
# The verdict of every claim line of the chapters, per scale (the networks are trained on 8x8
# digits, 64 dimensions, on 14x14 MNIST digits, 196 dimensions, and, on the pages "At 28x28", on
# 28x28 MNIST digits, 784 dimensions, with one training seed; C1 and C6 are closed-form
# properties of the optimal denoiser and of the toy model). {doc}`claims` gives each line's
# numbers, criterion and controls beside the paper's. The whole book is also one PDF:
# <a href="../_static/diffgen.pdf">diffgen.pdf</a>.

# %% tags=["remove-input"]
import base64

from IPython.display import Image, Markdown, display

from diffgen_lib import book

rows = book.claim_rows(book.PAPER, book.collect_claims())
display(Markdown(book.findings_markdown(rows, book.PAPER) + "\n\n" + book.tallies_markdown(rows)))

# %% [markdown]
# The figure that sums the book up puts training and inference on one scale: for every snapshot
# of every network, how much of the training set the objective memorized ($m_\text{train}$, 0 for
# no train/validation gap, 1 for a perfect memorizer) against how close the samples come to the
# training set ($m_\text{inf}$, 0 for fresh images, 1 for copies).

# %% tags=["remove-input"] mystnb={"figure": {"name": "fig-front-transfer", "caption": "Training index against memorization index of the samples, every snapshot of every run at both scales (from the inference chapter); dashed: the diagonal, on which everything memorized in training would reach the samples; stars: the sampler driven by the optimal denoiser of the training set."}}
png = book.figure_png("04_inference_gap", "fig-transfer")
display(Image(data=base64.b64decode(png)) if png else Markdown("(the inference chapter has not been executed yet)"))

# %% [markdown]
# ## What the paper claims
#
# - **C1, the optimal denoiser memorizes.** The denoiser that minimizes the training loss on a
#   finite training set is a weighted average of the training points; sampling with it returns
#   training points.
# - **C2, networks overfit the training objective.** A neural denoiser's relative generalization
#   gap, (validation error - training error) / training error, grows with training time and with
#   model size.
# - **C3, the gap lives at intermediate noise.** It is about zero at very small and at large noise
#   levels and peaks in between (around $\sigma \approx 0.6$-$2$ on ImageNet-64).
# - **C4, the training gap does not reach the samples.** Generated samples are about as close to
#   the validation set as to the training set; stopping the sampler early shows no gap where the
#   training gap peaks.
# - **C5, why: the sampler does not go where the network overfits.** The intermediate states of
#   sampling trajectories lie far from the noisy training samples at the same noise level.
# - **C6, a 2-D toy model explains it.** Modelling the network's error as smoothing the data by a
#   Gaussian of width $\delta$ suppresses exact recall and gives a smooth, generalizing flow field;
#   the gap is largest at $\sigma \approx \delta$.
# - **C7, what moves the gap.** Guidance increases the inference gap; finer conditioning increases
#   the training gap and moves its peak to higher noise; a smaller receptive field reduces it;
#   conditional models show a larger gap than unconditional ones.
#
# All diffusion models here use the EDM formulation {cite:p}`karras2022edm`: noisy inputs
# $x = y + \sigma n$ with $n \sim \mathcal N(0, I)$, a denoiser $D(x;\sigma)$ trained to predict $y$,
# and a deterministic Heun sampler of the probability-flow ODE
# $\mathrm{d}x/\mathrm{d}\sigma = (x - D(x;\sigma))/\sigma$. The paper connects to work on
# memorization regimes and collapse times {cite:p}`biroli2024dynamical,bonnaire2025why`, on
# memorization versus generalization {cite:p}`yoon2023diffusion,gu2023memorization,kadkhodaie2024generalization`,
# on locality and smoothed closed-form denoisers {cite:p}`kamb2024analytic,niedoba2025mechanistic,scarvelis2023closed`,
# and on how generated samples are evaluated {cite:p}`heusel2017gans,stein2023exposing`.
#
# ## How the book is organized
#
# - {doc}`01_optimal_denoiser`: the empirical optimal denoiser recalls its training points (C1).
# - {doc}`02_toy_model`: the analytic 2-D toy model with model error $\delta$ (C6).
# - {doc}`03_training_gap`: the denoising gap across training time, model size and noise level (C2, C3).
# - {doc}`04_inference_gap`: how close the samples and the early-stopped samples come to the training set (C4).
# - {doc}`05_trajectories`: where sampling trajectories go relative to the noisy training images (C5).
# - {doc}`06_factors`: guidance, conditioning granularity and receptive field (C7).
# - {doc}`07_check_your_model`: the book's memorization check as a command, for anyone's samples.
# - {doc}`scales`: what the 8x8, 14x14 and 28x28 runs found, on one axis of image dimension.
# - {doc}`claims` collects every verdict beside the paper's numbers; {doc}`timings` lists how long
#   each chapter took.
#
# ## Running it yourself
#
# ```bash
# make book   # execute the changed chapters, then build the HTML into _build/html
# make test   # unit tests, every chapter under nbval, and a check of the HTML
# ```
#
# Both create a virtual environment `.venv` (Python 3.11) the first time and use every core of the
# machine; the numbers do not depend on how many there are. A chapter runs with other parameters by
#
# ```bash
# .venv/bin/python -m diffgen_lib.book list                                   # parameters and defaults
# .venv/bin/python -m diffgen_lib.book run training_gap -p n_train 500 -p steps 3000
# .venv/bin/python -m diffgen_lib.book run 03_training_gap --profile gpu      # closer to the paper, on a GPU
# ```
#
# which validates the values before anything is computed and writes the executed notebook and its
# page to `_build/runs/`. The pages you read were executed once, so their sliders have no kernel
# behind them; `make lab` opens a chapter in JupyterLab, where they come alive. Datasets and trained
# networks are cached in `.cache/diffgen` (or the folder named by `DIFFGEN_CACHE`); the project's
# README gives the measured times and the GPU estimates.
#
# ## References
#
# ```{bibliography}
# ```
