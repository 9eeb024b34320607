"""The factors chapter's seed statistics, intervals, rises and tables (studies.factor_study,
studies.factor_tables, studies.factor_figures), on hand-made numbers."""

import numpy as np
import pytest
import torch

from diffgen_lib.studies import factor_figures, factor_study, factor_tables
from diffgen_lib.studies.guidance import GuidanceCalibration

pytestmark = pytest.mark.usefixtures("close_figures")


def _peaks():
    # 3 values of K x 2 seeds; the gap rises with K in every seed
    return factor_study.SeedPeaks(k_gaps=np.array([[1.0, 1.2], [1.4, 1.6], [2.0, 2.2]]),
                                  k_sigmas=np.array([[0.1, 0.1], [0.2, 0.2], [0.4, 0.4]]),
                                  class_gaps=np.array([1.5, 1.7]), class_sigmas=np.array([0.3, 0.3]),
                                  uncond_gaps=np.array([1.0, 1.2]))


def _gcal():
    """Guided sets whose index (NN gap, pixels) is 0.1 at w = 0, 0.2 (cfg) and 0.3 (auto) at w = 2;
    FD_val - FD_train (classifier) 1 + w."""
    stats = ("pixels/nn_gap", "pixels/fd_gap", "pixels/fd_diff", "classifier/fd_diff", "classifier/fd_gap",
             "copy_fraction")
    guided = {}
    for k in ("cfg", "auto"):
        for w in (0.0, 2.0):
            g = {s: np.full((2, 3), 0.5) for s in stats}
            g["pixels/nn_gap"] = np.full((2, 3), 0.1 + (w > 0) * (0.2 if k == "auto" else 0.1))
            g["classifier/fd_diff"] = np.full((2, 3), 1.0 + w)
            guided[k, w] = g
    null = {s: np.zeros(3) for s in stats}
    copier = {s: np.ones(3) for s in stats}
    return GuidanceCalibration([0.0, 2.0], 100, 400, guided, null, copier,
                               {s: np.full((2, 3), 0.5) for s in stats}, {s: np.zeros(5) for s in stats})


def test_seed_peaks_means_over_seeds():
    p = _peaks()
    np.testing.assert_allclose(p.k_peak, [1.1, 1.5, 2.1])
    np.testing.assert_allclose(p.k_sigma, [0.1, 0.2, 0.4])


def test_condition_intervals_and_verdicts():
    est = factor_study.condition_intervals(_peaks(), [0, 5, 10], n_seeds=2)
    assert est["C7c"].value == pytest.approx(1.0)     # the seed means rise with K: rank correlation 1
    assert est["C7d"].value == pytest.approx(0.3)     # 0.4 - 0.1
    assert est["C7e"].value == pytest.approx(0.5)     # 1.6 - 1.1
    verdicts = factor_study.condition_verdicts(est, cluster_rank=0.8)
    assert verdicts["C7d"] == "PASS" and verdicts["C7e"] == "PASS"
    # the class-conditional runs below the unconditional ones: the criterion fails
    flat = factor_study.SeedPeaks(*(getattr(_peaks(), f) for f in ("k_gaps", "k_sigmas")),
                                  np.array([0.5, 0.6]), np.array([0.3, 0.3]), np.array([1.0, 1.2]))
    assert factor_study.condition_verdicts(factor_study.condition_intervals(flat, [0, 5, 10], 2), 0.8)["C7e"] == "FAIL"


def test_guidance_rises_are_the_per_draw_differences():
    rises = factor_study.guidance_rises(_gcal(), ["cfg", "auto"], 2.0)
    np.testing.assert_allclose(rises["cfg"]["index"], 0.1)
    np.testing.assert_allclose(rises["auto"]["index"], 0.2)
    np.testing.assert_allclose(rises["cfg"]["fd_diff"], 2.0)
    records = factor_study.guidance_records(_gcal(), {"cfg": "classifier-free", "auto": "autoguidance"}, 2.0,
                                            [0.0, 2.0], rises)
    assert [r.id for r in records] == ["C7a", "C7b"]
    assert all("PASS" in r.line() for r in records)


def test_tables_format_the_numbers():
    gcal = _gcal()
    rows = factor_tables.guidance_calibrated_rows(gcal, ["pixels"], ["cfg", "auto"], [0.0, 2.0])
    nn = rows[0]
    assert nn["statistic"] == "nearest-neighbour gap, pixels" and nn["copier"] == "1"
    assert nn["index, w = 0"].startswith("0.1 ") and nn["index, auto w = 2"].startswith("0.3 ")
    assert "index, cfg w = 0" not in nn  # w = 0 is shared by the kinds
    assert factor_study.fmt_series([1, 2], [0.5, 0.25]) == "1: 0.5, 2: 0.25"
    assert factor_tables.direction_and_values([1, 2, 3], [1.0, 2.0, 3.0]) == ("up", "1: 1, 2: 2, 3: 3")
    assert factor_tables.direction_and_values([1, 2], None)[0] == "not measured"
    table = factor_tables.markdown_table(("a", "b"), [("x", "y")], bold=1)
    assert table == "| a | b |\n|---|---|\n| x | **y** |"
    windows = factor_tables.window_rows(np.array([4, 8]), np.array([0.1, 0.2]), np.array([1.0, 2.0]), None, 8)
    assert [r["windows per image"] for r in windows][-1] == 1 and windows[0]["peak gap"] == "0.1"


def test_figures_draw_their_panels():
    peaks = _peaks()
    ksweep = {k: {"sigmas": np.array([1.0, 0.1]), "gap": np.array([0.1, 0.3]), "classifier/gap": 0.1 * i,
                  "pixels/gap": 0.05 * i} for i, k in enumerate((0, 5, 10))}
    fig = factor_figures.clusters_peaks_figure(ksweep, [0, 5, 10], peaks)
    assert len(fig.axes) == 3
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), [0.0, 0.1, 0.2])
    guide = {"sigmas": torch.tensor([1.0, 0.1]),
             **{k: {"gap": torch.tensor([[0.1, 0.2], [0.2, 0.4]]), "classifier/gap": torch.tensor([0.1, 0.2]),
                    "pixels/gap": torch.tensor([0.1, 0.1]), "copy_fraction": torch.tensor([0.0, 0.01])}
                for k in ("cfg", "auto")}}
    fig = factor_figures.guidance_training_figure(guide, ["cfg", "auto"], [0.0, 2.0], np.array([1.0, 2.0]), 0.5, 1.0)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [0.2, 0.4])  # the peak of D_w per weight
    fig = factor_figures.guidance_inference_figure(guide, _gcal(), ["cfg", "auto"], [0.0, 2.0], [0.0, 2.0])
    assert len(fig.axes) == 4


def test_factor_row_measures_the_direction_or_says_not_measured():
    assert factor_tables.factor_row("f", "up", [1, 2, 3], [0.1, 0.2, 0.3], "here") == \
        ("f", "up", "up", "1: 0.1, 2: 0.2, 3: 0.3", "here")
    assert factor_tables.factor_row("f", "up", [1, 2], None, "here")[2] == "not measured"
