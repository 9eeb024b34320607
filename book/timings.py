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
# # Timings
#
# How long each chapter took when its committed notebook was executed (with its default
# parameters, by `make book`), read from the papermill metadata of the notebooks. The times
# depend on the machine that last executed a chapter and on its threads: `make book` first
# trains the networks of the chapters it is about to execute on every core (one thread per
# network, as many networks side by side as there are cores, the longest first; it prints that
# time on its own, `runs: trained ...`), then executes the chapters side by side, sharing the
# cores between them: on two cores, two chapters at a time with one thread each, so the times
# below are those of a chapter computing beside another, and they add up to more than the build
# took. The numbers the chapters print do not depend on the number of cores or threads (the tests
# check it). The times also depend on the cache: a chapter whose networks and measurements were
# already cached (`.cache/diffgen`) only loads them, so each notebook also keeps its costliest
# execution, the one that computed its measurements (the column "computing its results"): what the chapter
# costs in a build from an empty cache, and the order in which a build starts the chapters. The
# project's README lists the cold-cache times of the whole book, training included, measured on
# two CPU cores.

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from diffgen_lib import book

rows = book.collect_timings()
lines = [
    "| Chapter | Execution time | Slowest of its code cells | Computing its results | Finished (UTC) | Parameters |",
    "|---|---:|---:|---:|---|---|",
]
for r in rows:
    seconds = f"{r['duration']:.1f}\u00a0s" if r["duration"] is not None else "?"
    if r["threads"] is not None:  # non-breaking spaces: "173.2 s" and "1 thread" stay whole
        seconds += f", {r['threads']}\u00a0thread{'s' if r['threads'] > 1 else ''}"
    slowest = (f"#{r['slowest_cell']} of {r['n_cells']}: {r['slowest_s']:.1f}\u00a0s"
               if r["slowest_cell"] is not None else "")
    # non-breaking hyphen and space: a narrow column must not wrap a date mid-string
    finished = (r["end_time"] or "?")[:16].replace("-", "\u2011").replace("T", "\u00a0")
    params = ", ".join(f"`{k}={v}`" for k, v in r["parameters"].items()) or "defaults"
    computing = f"{r['longest']:.1f}\u00a0s" if r["longest"] is not None else "?"
    lines.append(f"| {{doc}}`{r['chapter']}` | {seconds} | {slowest} | {computing} | {finished} | {params} |")
total = sum(r["duration"] or 0.0 for r in rows)
cold = sum(r["longest"] or 0.0 for r in rows)
lines.append(f"| **sum of the chapters** | **{total:.1f}\u00a0s** ({total / 60:.1f} min) | | "
             f"**{cold:.1f}\u00a0s** ({cold / 60:.1f} min) | | |")
display(Markdown("\n".join(lines)))
