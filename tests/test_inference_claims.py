"""Claims that can fail: the copy mixtures, and the positive controls of C4 and C5 failing through
the same functions the chapters call."""

import os

import numpy as np
import pytest
import torch

from diffgen_lib import features
from diffgen_lib.measure import calibration, statistics
from diffgen_lib.studies import claims, experiments, inference_claims as ic, trajectory_claims as tc

torch.set_num_threads(2)


def test_the_index_of_a_copy_mixture_is_about_its_fraction_of_copies():
    """p exact training copies and 1 - p fresh images: the nearest-neighbour gap's memorization
    index is about p (a copy's distance to the full train reference is 0)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(20, 32, generator=g) * 3
    def draw(n):
        return (centres[torch.randint(0, 20, (n,), generator=g)] + torch.randn(n, 32, generator=g)).reshape(n, 1, 4, 8)
    train, held = draw(200), draw(700)
    cal = calibration.Calibration(train, np.zeros(200, int), held, np.zeros(700, int),
                                  {"pixels": features.PixelFeatures()}, n_gen=300, n_ref=200, n_draws=3)
    mixes = cal.mixture_statistics((0.0, 0.1, 0.5, 1.0))
    null, copier = mixes[0.0]["pixels/nn_gap"], mixes[1.0]["pixels/nn_gap"]
    index = {p: statistics.memorization_index(m["pixels/nn_gap"], null, copier).mean() for p, m in mixes.items()}
    assert index[0.0] == 0.0 and index[1.0] == 1.0
    assert index[0.1] == pytest.approx(0.1, abs=0.04) and index[0.5] == pytest.approx(0.5, abs=0.06)
    assert mixes[0.5]["copy_fraction"].mean() >= 0.5  # half the set are exact copies (ratio 0)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One scale of tiny runs measured by :func:`inference_claims.measure_scale`, as the chapter does."""
    from diffgen_lib.train import train_many

    old = os.environ.get("DIFFGEN_CACHE")
    os.environ["DIFFGEN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        base = dict(n_val=240, n_feature=100, steps=30)
        seeds = {s: experiments.gap_run(n_train=100, seed=s, **base) for s in (0, 1)}
        sizes = {60: experiments.gap_run(n_train=60, **base), 100: seeds[0]}
        runs = train_many(list(seeds.values()) + [sizes[60]], progress=False)
        study = ic.measure_scale("tiny", 100, {0: runs[0], 1: runs[1]}, {60: runs[2], 100: runs[0]}, [0, 1],
                                 n_draws=2, n_gen=80, n_steps=6, n_ref=60, n_eval=20)
        yield study
    finally:
        if old is None:
            os.environ.pop("DIFFGEN_CACHE")
        else:
            os.environ["DIFFGEN_CACHE"] = old


@pytest.mark.slow
def test_the_optimal_denoiser_and_the_gaussian_fail_c4a(tiny_study):
    record = ic.c4a(tiny_study)
    verdicts = {c.what: c.verdict for c in record.controls}
    assert verdicts["optimal-denoiser sampler"] == "FAIL"   # its samples are training images: index about 1
    assert verdicts["fitted Gaussian"] == "FAIL"            # it copies nothing but does not look like the data
    opt = record.controls[[c.what for c in record.controls].index("optimal-denoiser sampler")]
    assert opt.estimates[0].value > 0.9
    gauss = record.controls[[c.what for c in record.controls].index("fitted Gaussian")]
    assert gauss.estimates[0].hi < 0.5 and gauss.estimates[1].lo > 0.5  # novel, and not data-like
    line = record.line()
    assert claims.parse_claim_line(line).controls and "copy-equivalent fraction" in line


@pytest.mark.slow
def test_the_optimal_denoiser_fails_c4e_and_c5(tiny_study):
    e = ic.c4e(tiny_study)
    assert e.controls[0].verdict == "FAIL" and e.controls[0].estimates[0].value > 0.9
    # C5: the optimal denoiser's trajectories run through the noisy training images (shell index about 1)
    run = tiny_study.sizes[100]
    draws = tc.optimal_shell_draws(run, 80, 6, [0, 1], 60)
    steps = [4, 5]  # the small-sigma steps, where noisy fresh and noisy training images differ
    r = tc.shell_claim("C5a", "optimal denoiser as the model", {0: draws}, steps, claims.Criterion("<", 0.5),
                       {"optimal-denoiser trajectories": {0: draws}}, "2 sample seeds")
    assert r.raw_verdict == "FAIL" and r.controls[0].verdict == "FAIL"
    assert all(d.index[k] > 0.5 for d in draws for k in steps) and all(d.index[5] > 0.95 for d in draws)


@pytest.mark.slow
def test_decided_shares_and_the_other_c4_records(tiny_study):
    assert all(d.shape == (2, 6) and ((0 <= d) & (d <= 1)).all() for d in tiny_study.decided.values())
    assert np.allclose(tiny_study.decided[0][:, -1], 1.0)  # the last step's prediction is the sample
    opt_decided = tiny_study.optimal[100].decided
    assert opt_decided[:, -2:].min() == 1.0
    for record in (ic.c4b(tiny_study), ic.c4c(tiny_study), ic.c4d(tiny_study)):
        assert claims.parse_claim_line(record.line()).id == record.id
    rows = ic.run_rows(tiny_study)
    assert {r["samples"].split(",")[0] for r in rows} >= {"optimal-denoiser sampler", "Gaussian fitted to the training pixels"}
