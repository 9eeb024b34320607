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
# # Check your own model
#
# The calibrated memorization index of {doc}`04_inference_gap` answers a question many people who
# train diffusion models ask of their own samples: are they copies of the training set, and how much
# closer to it are they than fresh data would be? The tools in common use report a distance or a
# copy ratio without a reference for what fresh data or a copying sampler would score, and without
# an interval. The book's check puts the samples between the two, by the code of its chapters, as a
# command:
#
# ```bash
# .venv/bin/python -m diffgen_lib.book memorization SAMPLES --train TRAIN --heldout HELDOUT --out report
# ```
#
# `SAMPLES`, `TRAIN` and `HELDOUT` are `.npy`/`.npz` arrays ($(N, C, H, W)$ or $(N, D)$) or folders of
# PNG images, with values in $[0, 1]$, $0$-$255$ or $[-1, 1]$. The held-out images must come from
# the training distribution and never have been trained on (a validation split); an `.npz` with an
# integer array `labels` on both gives class-matched references, as in the book. `--features
# FILE.pt` adds a TorchScript feature network (Inception, DINOv2) for the quality index and $C_T$.
# The report (`report.json`, `report.html`, `gallery.png`) gives:
#
# - the **memorization index** of the nearest-neighbour gap, 0 for fresh images and 1 for copies,
#   with a 90% interval over reference draws and samples;
# - the **copy-equivalent fraction**: how many exact copies among fresh images score the same index;
# - the **copy fraction** (distance ratio to the two nearest training images below 1/3
#   {cite:p}`yoon2023diffusion,gu2023memorization`) beside that of fresh images;
# - the **quality index**: how data-like the samples are, between fresh images (0) and a Gaussian
#   fitted to the training set (1);
# - the data-copying statistic $C_T$ of {cite:t}`meehan2020non`: a Mann-Whitney $Z$ of the samples'
#   and the held-out images' distances to the training set in each cell of a k-means partition of
#   the training set, about 0 for fresh data and well below 0 for copying.
#
# Here it runs on the samples of one of the book's networks: the 14x14 run with
# {glue:text}`n_train` training images of {doc}`04_inference_gap`, exported with one line
#
# ```bash
# .venv/bin/python -c "from diffgen_lib.book.memorization import export_book_run as e; e('mnist5k14', 300, 'check')"
# .venv/bin/python -m diffgen_lib.book memorization check/samples.npz --train check/train.npz --heldout check/heldout.npz --out check/report
# ```

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
dataset = "mnist5k14"      # one of {"mnist5k14", "digits", "mnist5k"}: dataset of the book's run whose samples are checked
n_train = 300              # int in [50, 100000]: its training images (the second scale's sizes: 300, 1000)
steps = 6000               # int in [50, 10000000]: its training steps
sampler_steps = 32         # int in [2, 1000]: EDM Heun sampler steps of its samples (the inference chapter's)
n_samples = 300            # int in [70, 1000000]: samples checked (the inference chapter's sample set)

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from diffgen_lib.book import glue_values, setup_chapter, show_table, sig3
from diffgen_lib.book.memorization import export_book_run
from diffgen_lib.measure.calibrated_run import run_calibration

params = setup_chapter("07_check_your_model", globals())
glue_values(params)
work = Path(tempfile.mkdtemp(prefix="diffgen-check-"))
paths = export_book_run(dataset, n_train, work, steps, n_samples, sampler_steps)
command = [sys.executable, "-m", "diffgen_lib.book", "memorization", str(paths["samples"]), "--train", str(paths["train"]),
           "--heldout", str(paths["heldout"]), "--out", str(work / "report")]
done = subprocess.run(command, capture_output=True, text=True)
assert done.returncode == 0, done.stderr
report = json.loads((work / "report" / "report.json").read_text())

# %% [markdown]
# What the command printed:

# %%
print(done.stdout.strip().replace(f"{work}{os.sep}", ""))  # paths relative to the work folder

# %% [markdown]
# The same samples in the inference chapter, measured by the same function: its first sample set
# against its five reference draws ({numref}`tbl-check`).

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
from diffgen_lib import train
from diffgen_lib.studies import experiments

run = train.train(experiments.gap_run(dataset=dataset, n_train=n_train, steps=steps))
chapter = run_calibration(run, [0], 5, n_samples, sampler_steps, 1000, steps=[max(run.snapshots)],
                          progress=False)
chapter_draws = chapter.index("pixels/nn_gap")[0]
command_draws = report["index_draws"]
show_table([{"reference draw": r + 1, "the command": sig3(a), "the inference chapter": sig3(b)}
            for r, (a, b) in enumerate(zip(command_draws, chapter_draws))]
           + [{"reference draw": "mean", "the command": sig3(float(sum(command_draws) / len(command_draws))),
               "the inference chapter": sig3(float(chapter_draws.mean()))}],
           "tbl-check", f"Memorization index (nearest-neighbour gap, pixels) of the {n_samples} samples of the "
           f"{dataset} run with {n_train} training images, per reference draw: from the command's report and from the "
           f"inference chapter's calibration of the same samples (the same references, the same code).")
