"""The toy-model chapter's figures: one axes per panel, the lines the captions describe."""

import numpy as np
import pytest

from diffgen_lib import toy
from diffgen_lib.studies import toy_figures, toy_study


pytestmark = pytest.mark.usefixtures("close_figures")


def test_gap_sigma_figure_draws_a_curve_and_a_peak_per_delta():
    sigmas = np.array([4.0, 2.0, 1.0])
    curves = {2.0: np.array([0.0, 1.0, 0.2]), 1.0: np.array([0.0, 0.3, 2.0])}
    fig = toy_figures.gap_sigma_figure(sigmas, curves, toy_study.peaks_of(sigmas, curves))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["$\\delta$ = 2", "$\\delta$ = 1"]
    peak_marks = [l for l in ax.lines if l.get_marker() == "v"]
    assert [(float(l.get_xdata()[0]), float(l.get_ydata()[0])) for l in peak_marks] == [(2.0, 1.0), (1.0, 2.0)]


def test_gap_angle_figure_marks_every_training_and_validation_point():
    train, val = toy.circle_data(6)
    angles = toy_study.probe_angles(train, val, n_grid=9)
    fig = toy_figures.gap_angle_figure(angles, {0.0: np.ones(len(angles)), 1.0: np.zeros(len(angles))}, train, val, 1.0)
    dotted = [l for l in fig.axes[0].lines if l.get_linestyle() == ":"]
    assert len(dotted) == len(train) + len(val)
    assert fig.axes[0].get_title() == "$\\sigma$ = 1"


def test_trajectories_figure_has_a_panel_per_delta_in_the_given_order():
    train, val = toy.circle_data(6)
    paths = {d: toy.sample_trajectories(train, d, 5, n_steps=3, seed=0)[0] for d in (0.0, 1.0, 2.0)}
    fig = toy_figures.trajectories_figure(paths, [2.0, 0.0, 1.0], train, val, recall_tol=0.1, n_paths=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split(":")[0] for t in titles] == ["$\\delta$ = 2", "$\\delta$ = 0", "$\\delta$ = 1"]
    assert titles[1].endswith("recall 1.00")  # the optimal denoiser recalls training points
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # the unused fourth panel is off
    assert sum(1 for l in fig.axes[0].lines if l.get_color() == "0.7") == 2


def test_density_guidance_and_generated_figures_have_twin_axes():
    sigmas = np.array([4.0, 2.0, 1.0])
    curves = {8: np.array([0.0, 1.0, 0.2]), 9: np.array([0.0, 0.5, 0.1])}
    fig = toy_figures.density_figure(sigmas, curves, toy_study.peaks_of(sigmas, curves), 1.6)
    assert len(fig.axes) == 3
    peaks = toy_study.peaks_of(sigmas, {0.0: curves[8], 1.0: curves[9]})
    fig = toy_figures.guidance_figure(sigmas, {0.0: curves[8], 1.0: curves[9]}, peaks, 1.8, 2.2,
                                      {0.0: 1.8, 1.0: 1.2}, {0.0: 1.8, 1.0: np.nan})
    assert len(fig.axes) == 3 and list(fig.axes[2].lines[0].get_ydata()) == [1.8, 1.2]
    dist = toy_study.GeneratedDistances([0.0, 1.0], np.array([1.0, 2.0]), np.array([3.0, 3.0]), 2.5,
                                        np.array([0.0, 0.2]), np.array([1.0, 0.8]), np.array([1.0, 0.0]))
    fig = toy_figures.generated_figure(dist)
    assert len(fig.axes) == 3 and list(fig.axes[2].lines[0].get_ydata()) == [1.0, 0.0]
