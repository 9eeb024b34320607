"""Every core by default, the same numbers: runs trained and chapters executed with 1, 2 and 4
workers side by side give the same bits (a run's own thread count is fixed, the number of
workers only decides how many go side by side)."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from diffgen_lib.book.layout import available_cores, book_threads
from diffgen_lib.studies import experiments

from test_book import HEADER, make_root

pytestmark = pytest.mark.slow


def _weights(run):
    return {step: {k: v.clone() for k, v in net.state_dict().items()} for step, net in run.snapshots.items()}


def test_the_same_runs_with_one_two_and_four_workers(tmp_path, monkeypatch):
    from diffgen_lib.train import train, train_many

    configs = [replace(experiments.gap_run(steps=12, channels=c, n_train=n), snapshot_steps=(6, 12))
               for c, n in ((8, 100), (16, 100), (8, 150))]
    assert all(c.threads == experiments.RUN_THREADS == 1 for c in configs)
    weights = {}
    for workers in (1, 2, 4):
        monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path / f"cache{workers}"))
        runs = train_many(configs, workers=workers, progress=False)
        assert all((tmp_path / f"cache{workers}" / "train" / r.key / "run.pt").exists() for r in runs)
        weights[workers] = [_weights(train(c, progress=False)) for c in configs]  # loaded back
    for workers in (2, 4):
        for a, b in zip(weights[1], weights[workers]):
            assert a.keys() == b.keys()
            assert all(torch.equal(a[s][k], b[s][k]) for s in a for k in a[s])


COMPUTE_CHAPTER = HEADER + '''
# %% tags=["parameters"]
seed = 0              # int in [0, 2**31-1]: master seed

# %%
import torch

from diffgen_lib import diffusion, networks
from diffgen_lib.book import setup_chapter
from diffgen_lib.measure import metrics

params = setup_chapter("{stem}", globals())
torch.manual_seed({k})
net = diffusion.EDMPrecond(networks.UNet((1, 8, 8), channels=16), 0.5).eval()
images = diffusion.per_sample_noise(range(64), (1, 8, 8)).clamp(-1, 1)
errors = metrics.denoising_errors(net, images, [0.05, 0.5, 5.0], noise_seed={k})
samples = diffusion.generate(net, range(40), (1, 8, 8), n_steps=4)
print(repr(errors.sum()), repr(samples.double().sum().item()), repr(metrics.frechet_distance(images[:40], samples)))
'''


def test_the_same_chapter_outputs_with_one_two_and_four_workers(tmp_path):
    """Four chapters measuring as the book's do (denoising errors, the sampler, a Frechet
    distance), built with --jobs 1, 2 and 4 (each chapter's threads: the build's share of
    DIFFGEN_THREADS=4): the printed bits are the same."""
    printed = {}
    for jobs in (1, 2, 4):
        root = make_root(tmp_path / f"j{jobs}")
        stems = [f"t_sum{k}" for k in range(4)]
        for k, stem in enumerate(stems):
            (root / "book" / f"{stem}.py").write_text(COMPUTE_CHAPTER.format(stem=stem, k=k))
        (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                       + "".join(f"  - file: book/{s}\n" for s in stems))
        env = {**os.environ, "DIFFGEN_THREADS": "4"}
        res = subprocess.run([sys.executable, "-m", "diffgen_lib.book", "--root", str(root), "build", "--no-html",
                              "--jobs", str(jobs)], capture_output=True, text=True, env=env, timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
        threads = {1: 4, 2: 2, 4: 1}[jobs]
        printed[jobs] = {}
        for stem in stems:
            nb = json.loads((root / "book" / f"{stem}.ipynb").read_text())
            assert nb["metadata"]["diffgen"]["threads"] == threads
            printed[jobs][stem] = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert printed[1] == printed[2] == printed[4]
    assert all(text.strip() for text in printed[1].values())


def test_the_build_uses_every_core_unless_told(monkeypatch):
    from diffgen_lib.book.cli import chapter_jobs

    monkeypatch.delenv("DIFFGEN_THREADS", raising=False)
    assert book_threads() == available_cores() == len(os.sched_getaffinity(0))
    assert chapter_jobs(None, 100) == (available_cores(), 1)
    monkeypatch.setenv("DIFFGEN_THREADS", "8")
    assert book_threads() == 8 and chapter_jobs(None, 6) == (6, 1) and chapter_jobs(None, 2) == (2, 4)
    assert experiments.run_threads() == 1  # whatever the cores: a run's key and bits stay
