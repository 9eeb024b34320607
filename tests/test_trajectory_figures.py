"""The trajectories chapter's figures, from hand-made statistics."""

from types import SimpleNamespace

import numpy as np
import pytest

from diffgen_lib.measure.evaluation import GapCurves
from diffgen_lib.studies import trajectory_figures

pytestmark = pytest.mark.usefixtures("close_figures")


def _draw(index, resolved):
    return SimpleNamespace(index=np.asarray(index, dtype=float), sigmas=np.array([10.0, 1.0, 0.1]),
                           resolved=lambda: np.asarray(resolved))


def test_defined_mean_is_nan_where_a_draw_is_unresolved():
    draws = [_draw([0.2, 0.4, 0.6], [False, True, True]), _draw([0.4, 0.6, 0.8], [True, True, True])]
    out = trajectory_figures.defined_mean(draws)
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.5, 0.7])


def test_shell_figure_draws_every_size_and_the_optimal_denoiser():
    curves = GapCurves(sigmas=np.array([10.0, 1.0, 0.1]), steps=np.array([5]), train_error=np.array([[1.0, 0.5, 0.1]]),
                       val_error=np.array([[1.0, 1.0, 0.2]]), n_eval=3)
    scale = {"seed_draws": {0: [_draw([0.1, 0.2, 0.3], [True] * 3)]},
             "size_draws": {100: [_draw([0.5, 0.6, 0.7], [True] * 3)], 300: None},
             "optimal": {300: [_draw([0.9, 1.0, 1.0], [True] * 3)]}, "curves": {300: curves}}
    fig = trajectory_figures.shell_figure({"a": scale, "b": scale}, {"a": 300, "b": 300}, 0.5)
    lines = fig.axes[0].lines
    np.testing.assert_allclose(lines[0].get_ydata(), [0.5, 0.6, 0.7])   # N = 100
    np.testing.assert_allclose(lines[1].get_ydata(), [0.1, 0.2, 0.3])   # the main size: its seed draws
    np.testing.assert_allclose(lines[2].get_ydata(), [0.9, 1.0, 1.0])   # the optimal denoiser


def test_measures_figure_centres_log_density_on_the_training_median():
    sig = np.array([1.0, 0.1])
    vals = {name: {"nn_dist": np.ones((2, 5)), "logp": np.full((2, 5), 3.0 if name == "train" else 1.0),
                   "max_weight": np.zeros((2, 5))} for name in ("trajectory", "train", "val")}
    fig = trajectory_figures.measures_figure(SimpleNamespace(sigmas=sig, values=vals), 0.5)
    logp_lines = [l for l in fig.axes[1].lines if l.get_marker() == "o"]
    np.testing.assert_allclose(logp_lines[1].get_ydata(), [0.0, 0.0])   # train against its own median
    np.testing.assert_allclose(logp_lines[0].get_ydata(), [-2.0, -2.0])
