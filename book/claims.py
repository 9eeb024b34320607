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
# # Claims: what this book reproduced
#
# Every chapter ends with one `CLAIM` line per claim it tests, printed in a fixed format with a
# criterion fixed before the measurement, and a `SCALE` line saying at which scale it measured.
# This page collects those lines from the chapters' notebooks as they are committed (executed
# with their default parameters) and sets them beside what the paper
# {cite:p}`kaiser2026diffusion` reports at ImageNet scale, one block per claim of the paper.
#
# A verdict is {bdg-success}`PASS` when the whole 90% bootstrap interval of the measured value
# (over training seeds, sample seeds and reference draws) meets its criterion, {bdg-danger}`FAIL`
# when none of it does, and {bdg-warning}`INCONCLUSIVE` when the interval straddles the criterion.
# Every empirical claim is also run on a *positive control*, a setting in which the claim is false
# (a sampler driven by the optimal denoiser of the training set, a run that copies, a Gaussian
# fitted to the training pixels, ...), by the same code and criterion: when a control does not
# FAIL, the test cannot fail at that scale and the claim is {bdg-warning}`INCONCLUSIVE` whatever
# the model scored. The claims about the optimal denoiser and the toy model (C1, C6) are
# closed-form properties of the analysis; they are counted apart. {bdg-muted}`not yet measured`
# marks a claim no chapter tests yet.

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from diffgen_lib import book

rows = book.claim_rows(book.PAPER, book.collect_claims())

# %% tags=["remove-input"]
display(Markdown(book.claims_markdown(rows)))

# %% [markdown]
# How much of what the training objective memorized reaches the samples: every snapshot of every
# run of the inference chapter on one 0-1 scale for training ($m_\text{train}$) and for inference
# ($m_\text{inf}$), as measured in {doc}`04_inference_gap`.

# %% tags=["remove-input"] mystnb={"figure": {"name": "fig-claims-transfer", "caption": "The transfer figure of the inference chapter: training index m_train at the training gap's peak against the memorization index of the samples m_inf, every snapshot of every run at both scales; dashed: the diagonal; stars: the optimal-denoiser sampler."}}
import base64

from IPython.display import Image

png = book.figure_png("04_inference_gap", "fig-transfer")
display(Image(data=base64.b64decode(png)) if png else Markdown("(the inference chapter has not been executed)"))

# %% [markdown]
# Every claim with its verdict, chapter and scale as one plain-text list, to copy or compare:

# %% tags=["remove-input", "hide-output"]
# NBVAL_CHECK_OUTPUT
print(book.claims_text(rows))
