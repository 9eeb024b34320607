"""The training-gap chapter's figures, from hand-made curves."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from diffgen_lib.measure.evaluation import GapCurves
from diffgen_lib.studies import gap_figures, gap_study, training_gap


pytestmark = pytest.mark.usefixtures("close_figures")


def _curves():
    return GapCurves(sigmas=np.array([10.0, 1.0, 0.1]), steps=np.array([100, 200]),
                     train_error=np.array([[4.0, 1.0, 0.5], [4.0, 0.5, 0.01]]),
                     val_error=np.array([[4.0, 2.0, 0.5], [4.0, 2.0, 0.02]]), n_eval=7)


def test_sigma_axis_marks_sigma_data_and_adds_the_ratio_axis():
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    gap_figures.sigma_axis(ax, 0.5)
    assert [list(l.get_xdata()) for l in ax.lines] == [[0.5, 0.5]]
    assert len(ax.child_axes) == 1 and ax.child_axes[0].get_xlabel() == "$\\sigma / \\sigma_\\mathrm{data}$"


def test_gap_snapshots_figure_marks_the_last_peak():
    c = _curves()
    peaks = gap_study.peaks_of({"m": c})["m"]
    fig = gap_figures.gap_snapshots_figure(c, peaks, training_gap.seed_band([c.gap[-1]]), 1, 0.5)
    mark = [l for l in fig.axes[0].lines if l.get_marker() == "v"][0]
    assert (float(mark.get_xdata()[0]), float(mark.get_ydata()[0])) == (1.0, 3.0)


def test_comparison_and_time_figures_plot_every_run_and_snapshot():
    c = _curves()
    fig = gap_figures.comparison_figure({"a": c, "b": c}, gap_study.peaks_of({"a": c, "b": c}), str.upper, "t", 200, 0.5)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["A", "B"]
    assert list(fig.axes[1].lines[0].get_ydata()) == [1.0, 3.0]
    fig = gap_figures.gap_time_figure(c, 1, 0.5)
    assert list(fig.axes[1].lines[0].get_ydata()) == [1.0, 3.0] and fig.axes[1].get_title() == "$\\sigma$ = 1"


def test_reconstruction_figure_has_a_row_per_snapshot_and_a_blank_column():
    images = torch.zeros(2, 1, 4, 4)
    recon = training_gap.Reconstructions(0.5, [1, 2], images, images, images, images, {1: images, 2: images},
                                         {1: images, 2: images}, {}, {}, {}, {})
    opt = training_gap.Reconstructions(0.5, [], images, images, images, images, {"optimal": images},
                                       {"optimal": images}, {}, {}, {}, {})
    fig = gap_figures.reconstruction_figure(recon, opt, 2)
    assert len(fig.axes) == (2 + 2 + 1) * (2 * 2 + 1)
    assert [fig.axes[r * 5].get_ylabel() for r in range(5)] == ["clean", "noisy", "step 1", "step 2", "optimal"]
