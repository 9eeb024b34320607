"""The toy-model explorer: one state per slider setting, its drawing, the live widget and the
precomputed frames."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection

from diffgen_lib import diffusion, toy
from diffgen_lib.studies import explorer

torch.set_num_threads(2)


def test_state_matches_the_toy_model():
    state = explorer.compute_state(delta=1.6, sigma=1.0, n_train=10)
    train, val = toy.circle_data(20)
    assert np.allclose(state.train, train) and np.allclose(state.val, val)
    assert state.delta_neg is None
    # the gap curve is the toy model's on the explorer's sigma grid, and the current sigma's value
    sigmas = diffusion.edm_sigmas(explorer.GAP_SIGMA_STEPS).numpy()
    assert np.allclose(state.sigmas, sigmas)
    expected = toy.gap_curve(train, val, sigmas, 1.6)
    assert np.allclose(state.gap, expected)
    # the value shown for the current sigma is read off the drawn curve (between its neighbours)
    above, below = sigmas[sigmas >= 1.0].min(), sigmas[sigmas <= 1.0].max()
    lo, hi = sorted(state.gap[[list(sigmas).index(above), list(sigmas).index(below)]])
    assert lo <= state.gap_at_sigma <= hi
    on_grid = explorer.compute_state(delta=1.6, sigma=float(sigmas[20]), n_train=10)
    assert on_grid.gap_at_sigma == pytest.approx(state.gap[20], rel=1e-5)
    # the peak is the largest value of the toy model's gap curve, found by hand
    k = max(range(len(sigmas)), key=lambda i: expected[i])
    assert state.peak_sigma == sigmas[k] and state.peak_gap == pytest.approx(expected[k])
    # the field is y_delta(x) - x on the grid
    gx, gy, u, v = state.field
    x = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    y = toy.predictor(x, 1.0, torch.from_numpy(train), 1.6).numpy()
    assert np.allclose(u.ravel(), y[:, 0] - gx.ravel()) and np.allclose(v.ravel(), y[:, 1] - gy.ravel())


def test_sliders_change_what_is_computed():
    base = explorer.compute_state(1.6, 1.0, 10)
    sharper = explorer.compute_state(1.2, 1.0, 10)
    denser = explorer.compute_state(1.6, 1.0, 14)
    guided = explorer.compute_state(1.6, 1.0, 10, guidance=2.0)
    assert sharper.peak_gap > base.peak_gap > denser.peak_gap
    assert guided.peak_gap > base.peak_gap
    assert guided.delta_neg == pytest.approx(1.6 + explorer.NEG_OFFSET)
    assert len(denser.train) == len(denser.val) == 14


def test_invalid_slider_values_raise():
    for bad in (dict(delta=-0.1), dict(sigma=0.0), dict(n_train=0), dict(n_train=2.5), dict(guidance=-1.0)):
        values = dict(delta=1.0, sigma=1.0, n_train=5, guidance=0.0) | bad
        with pytest.raises(ValueError):
            explorer.compute_state(**values)


def test_draw_state_draws_the_state():
    state = explorer.compute_state(1.6, 0.5, 8, guidance=1.0)
    fig, (ax_flow, ax_gap) = explorer.draw_state(state)
    # left: streamlines and the train / val points
    assert any(isinstance(c, LineCollection) for c in ax_flow.collections)
    offsets = [c.get_offsets() for c in ax_flow.collections if isinstance(c, PathCollection)]
    assert any(o.shape == state.train.shape and np.allclose(o, state.train) for o in offsets)
    assert any(o.shape == state.val.shape and np.allclose(o, state.val) for o in offsets)
    # right: the gap curve and the current sigma
    curve = ax_gap.get_lines()[0]
    assert np.allclose(curve.get_xdata(), state.sigmas) and np.allclose(curve.get_ydata(), state.gap)
    marker_x = [line.get_xdata()[0] for line in ax_gap.get_lines() if len(line.get_xdata()) >= 1]
    assert state.sigma in marker_x
    assert "w = 1" in fig._suptitle.get_text()
    # redrawing into the same axes replaces the content
    explorer.draw_state(explorer.compute_state(2.0, 2.0, 8), axes=(ax_flow, ax_gap))
    train, val = toy.circle_data(16)  # the new state's 8 + 8 points
    expected = toy.gap_curve(train, val, diffusion.edm_sigmas(explorer.GAP_SIGMA_STEPS).numpy(), 2.0)
    assert np.allclose(ax_gap.get_lines()[0].get_ydata(), expected)


def test_optimal_denoiser_state_with_unbounded_gap_draws():
    state = explorer.compute_state(0.0, 0.3, 10)
    assert not np.all(np.isfinite(state.gap))        # the train error is exactly 0 at small sigma
    fig, (_, ax_gap) = explorer.draw_state(state)
    assert any("not shown" in t.get_text() for t in ax_gap.texts)
    assert ax_gap.get_xlim() == pytest.approx((state.sigmas.min(), state.sigmas.max()))


def test_live_explorer_update_and_sliders():
    ex = explorer.Explorer(delta=1.6, sigma=1.0, n_train=10, guidance=0.0)
    assert ex.state.delta == 1.6 and ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    first_png = ex.image.value
    state = ex.update(delta=1.2, n_train=8)
    assert (state.delta, state.sigma, state.n_train) == (1.2, 1.0, 8)
    assert ex.sliders["delta"].value == 1.2 and ex.sliders["n_train"].value == 8
    assert ex.image.value != first_png
    assert f"{state.gap_at_sigma:.3g}" in ex.status.value
    # moving a slider recomputes through the observer
    ex.sliders["guidance"].value = 1.0
    assert ex.state.guidance == 1.0 and ex.state.delta_neg == pytest.approx(1.2 + explorer.NEG_OFFSET)
    with pytest.raises(ValueError):
        ex.update(sigma=-1.0)


def test_gap_at_sigma_never_exceeds_the_curves_peak():
    for sigma in (0.3, 0.8, 1.0, 1.37, 2.5):
        state = explorer.compute_state(delta=1.6, sigma=sigma, n_train=10)
        assert state.gap_at_sigma <= state.peak_gap + 1e-12


def test_saved_explorer_has_disabled_sliders_and_says_why():
    saved = explorer.Explorer(live=False)
    assert all(slider.disabled for slider in saved.sliders.values())
    assert "disabled" in saved.widget.children[0].value
    live = explorer.Explorer(live=True)
    assert not any(slider.disabled for slider in live.sliders.values())


def test_interactive_session_follows_the_execution_mode(monkeypatch):
    monkeypatch.setenv("DIFFGEN_EXECUTION", "batch")
    assert not explorer.interactive_session()
    monkeypatch.delenv("DIFFGEN_EXECUTION")
    assert explorer.interactive_session()


def test_precomputed_tour_and_animation():
    base = {"delta": 1.6, "sigma": 1.0, "n_train": 6, "guidance": 0.0}
    states = explorer.precompute_states(base, {"delta": [1.0, 1.6], "sigma": [1.0, 3.0]})
    # the base state (delta 1.6, sigma 1.0) appears once
    assert [(s.delta, s.sigma) for s in states] == [(1.0, 1.0), (1.6, 1.0), (1.6, 3.0)]
    html = explorer.animation_html(states[:2], dpi=30)
    assert "<script" in html and html.count("data:image/png;base64") == 2
    assert "font-awesome" not in html and 'class="fa ' not in html and "\u25b6" in html
    with pytest.raises(ValueError):
        explorer.precompute_states({"delta": 1.0}, {"sigma": [1.0]})
    with pytest.raises(ValueError):
        explorer.animation_html([])
