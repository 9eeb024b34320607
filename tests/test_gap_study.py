"""The training-gap chapter's runs and their summaries."""

import math
from dataclasses import replace

import numpy as np
import pytest

from diffgen_lib import book
from diffgen_lib.book.layout import ROOT
from diffgen_lib.measure.evaluation import GapCurves
from diffgen_lib.studies import experiments, gap_study


def _defaults():
    specs = book.parse_spec("03_training_gap", ROOT / "book")
    return {name: spec.default for name, spec in specs.items()}


def test_chapter_configs_are_the_shared_runs_the_train_command_trains():
    values = _defaults()
    configs = gap_study.chapter_configs(values)
    assert set(configs.all()) == set(experiments.shared_runs(values).values())
    assert configs.main == experiments.gap_run() and configs.seeds[0] == configs.main
    assert sorted(configs.width_seeds) == [(8, 0), (8, 1), (8, 2), (32, 0), (32, 1), (32, 2)]
    assert configs.scale2_seeds[0] == configs.scale2 and configs.class_conditional.labels == "class"


def test_seed_statistics_of_a_growing_gap():
    c = GapCurves(sigmas=np.array([10.0, 1.0, 0.1]), steps=np.array([1, 2, 3]),
                  train_error=np.ones((3, 3)), val_error=np.array([[1, 1.5, 1], [1, 2, 1.1], [1, 3, 1.2]]), n_eval=2)
    st = gap_study.seed_statistics({5: c}, peak_margin=1)
    assert st["rho"][5] == pytest.approx(1.0)
    assert st["c3"][5]["index"] == 1 and st["c3"][5]["peak"] == pytest.approx(2.0)
    assert st["c3"][5]["end_ratio"] == pytest.approx(0.1)
    assert gap_study.peaks_of({"x": c})["x"]["peak_gap"] == pytest.approx([0.5, 1.0, 2.0])


def test_ema_halflife_is_capped_by_the_rampup():
    config = experiments.gap_run()
    free = replace(config, ema_halflife_kimg=0.5, ema_rampup_ratio=None)
    assert gap_study.ema_halflife_images(free, steps=101, batch_size=10) == pytest.approx(500)
    ramped = replace(config, ema_halflife_kimg=0.5, ema_rampup_ratio=0.05)
    assert gap_study.ema_halflife_images(ramped, steps=101, batch_size=10) == pytest.approx(0.05 * 100 * 10)
    assert math.isfinite(gap_study.ema_halflife_images(config, 1500, 64))
