"""Interactive explorer of the 2-D toy model and the toy model's flow-field plot.

One *state* of the explorer is everything drawn for one choice of the four slider values: the
model error delta, the noise level sigma, the number of training points N on the symmetric circle
(N train and N val points, alternating) and the autoguidance weight w (the guiding model has
delta_neg = delta + ``neg_offset``). :func:`compute_state` computes a state, :func:`draw_state`
draws it (flow field on the left, relative gap against sigma on the right).

Two front ends share them:

* :class:`Explorer`, ipywidgets sliders that recompute and redraw the state live while a kernel
  runs (the drawing is an ``ipywidgets.Image``, so the last state is saved with the notebook);
* :func:`precompute_states` and :func:`animation_html`, a small grid of precomputed states as a
  JavaScript animation (matplotlib ``FuncAnimation.to_jshtml``) that works in static HTML.
"""

from __future__ import annotations

import functools
import io
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .. import diffusion, toy
from ..measure import summaries

NEG_OFFSET = 0.4        # autoguidance: delta_neg = delta + NEG_OFFSET
GAP_SIGMA_STEPS = 40    # sigma grid of the explorer's gap curve (EDM schedule)
N_NOISE = toy.N_NOISE    # noise draws per point for the gap (the toy model's default)
FIGSIZE = (7.0, 3.4)     # inches: fits the page's text column at 100 dpi, so 10 pt text stays 10 pt
EXTENT = 14.0           # half-width of the flow-field window
RESOLUTION = 31         # flow-field grid points per axis
SPEED_RANGE = (-2.0, 1.4)  # colour range of the flow field: log10 of its length
GAP_CAP = 1e3           # the gap plot leaves out larger values (delta = 0 makes the gap unbounded)

SLIDER_RANGES = {       # (min, max, step) of the live sliders; sigma's are log10 exponents
    "delta": (0.0, 3.0, 0.1),
    "sigma": (-1.5, 1.7, 0.05),
    "n_train": (3, 20, 1),
    "guidance": (0.0, 3.0, 0.25),
}


# ----------------------------------------------------------------------------------------------
# Flow field


def draw_flow(ax, train: np.ndarray, sigma: float, delta: float, val: Optional[np.ndarray] = None,
              guidance: float = 0.0, delta_neg: Optional[float] = None, extent: float = EXTENT,
              resolution: int = RESOLUTION, density: float = 1.0, field=None, title: Optional[str] = None,
              speed_range: Optional[Tuple[float, float]] = SPEED_RANGE):
    """Streamlines of the toy model's field y(x; sigma) - x on ``ax``, coloured by log10 of its
    length (fixed colour range ``speed_range``, so that panels compare; None: each panel its own),
    with the training points (filled) and validation points (open) on top.

    ``field`` = (X, Y, U, V) from :func:`toy.flow_field` skips the computation. Returns the
    streamplot set (its ``lines`` serve a colorbar).
    """
    if field is None:
        field = toy.flow_field(train, sigma, delta, extent=extent, resolution=resolution,
                               guidance=guidance, delta_neg=delta_neg)
    gx, gy, u, v = field
    speed = np.log10(np.hypot(u, v) + 1e-6)
    norm = None
    if speed_range is not None:
        from matplotlib.colors import Normalize

        norm = Normalize(*speed_range, clip=True)
    stream = ax.streamplot(gx, gy, u, v, color=speed, cmap="viridis", norm=norm, density=density,
                           linewidth=0.8, arrowsize=0.7)
    if val is not None and len(val):
        ax.scatter(val[:, 0], val[:, 1], s=28, facecolors="none", edgecolors="tab:red", linewidths=1.2,
                   zorder=3, label="val")
    ax.scatter(train[:, 0], train[:, 1], s=22, c="black", zorder=4, label="train")
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is None:
        title = f"$\\delta$ = {delta:g}, $\\sigma$ = {sigma:.3g}" + (f", w = {guidance:g}" if guidance else "")
    ax.set_title(title, fontsize=10)
    return stream


# ----------------------------------------------------------------------------------------------
# One state


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer draws for one choice of slider values."""

    delta: float
    sigma: float
    n_train: int
    guidance: float
    delta_neg: Optional[float]   # None without guidance
    train: np.ndarray            # (n_train, 2)
    val: np.ndarray              # (n_train, 2)
    field: Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # X, Y, U, V
    sigmas: np.ndarray           # sigma grid of the gap curve, decreasing
    gap: np.ndarray              # relative gap (val - train) / train on that grid
    gap_at_sigma: float          # relative gap at the state's own sigma
    peak_gap: float
    peak_sigma: float

    @property
    def label(self) -> str:
        text = f"δ = {self.delta:.2f}, σ = {self.sigma:.3g}, N = {self.n_train}"
        if self.guidance:
            text += f", w = {self.guidance:g} (δ_neg = {self.delta_neg:.2f})"
        return text


def check_values(delta: float, sigma: float, n_train: int, guidance: float) -> None:
    """Raise ValueError for slider values outside the model's domain."""
    if not delta >= 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if isinstance(n_train, bool) or int(n_train) != n_train or n_train < 1:
        raise ValueError(f"n_train must be an int >= 1, got {n_train!r}")
    if not guidance >= 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")


def interactive_session() -> bool:
    """False when the book executes a chapter in batch (papermill, nbval): the saved page has no
    kernel behind its widgets, so live sliders would move without redrawing anything."""
    return os.environ.get("DIFFGEN_EXECUTION") != "batch"


@functools.lru_cache(maxsize=256)
def _gap(delta: float, n_train: int, guidance: float, delta_neg: Optional[float], n_steps: int,
         n_noise: int) -> Tuple[np.ndarray, np.ndarray]:
    train, val = toy.circle_data(2 * n_train)
    sigmas = diffusion.edm_sigmas(n_steps).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # delta = 0: train error 0 at small sigma
        gap = toy.gap_curve(train, val, sigmas, delta, n_noise=n_noise, guidance=guidance, delta_neg=delta_neg)
    sigmas.setflags(write=False)
    gap.setflags(write=False)
    return sigmas, gap


def compute_state(delta: float, sigma: float, n_train: int = 10, guidance: float = 0.0,
                  neg_offset: float = NEG_OFFSET, gap_steps: int = GAP_SIGMA_STEPS, n_noise: int = N_NOISE,
                  extent: float = EXTENT, resolution: int = RESOLUTION) -> ExplorerState:
    """The explorer's state for one choice of slider values (symmetric circle, 2 N points)."""
    check_values(delta, sigma, n_train, guidance)
    delta, sigma, n_train, guidance = float(delta), float(sigma), int(n_train), float(guidance)
    delta_neg = delta + neg_offset if guidance > 0 else None
    train, val = toy.circle_data(2 * n_train)
    field = toy.flow_field(train, sigma, delta, extent=extent, resolution=resolution,
                           guidance=guidance, delta_neg=delta_neg)
    sigmas, gap = _gap(delta, n_train, guidance, delta_neg, int(gap_steps), int(n_noise))
    here = summaries.value_at_sigma(sigmas, gap, sigma)
    top = summaries.peak(sigmas, gap)
    peak_gap, peak_sigma = top["peak_gap"], top["peak_sigma"]
    return ExplorerState(delta, sigma, n_train, guidance, delta_neg, train, val, field, sigmas, gap,
                         here, peak_gap, peak_sigma)


def draw_state(state: ExplorerState, fig: Optional[Figure] = None, axes=None):
    """Draw a state: flow field (left) and gap against sigma with the current sigma marked (right).

    Draws into ``axes`` (two axes, cleared first), else into a new two-panel ``fig`` (a plain
    matplotlib Figure, which pyplot does not show by itself). Returns (fig, axes).
    """
    if axes is None:
        fig = fig if fig is not None else Figure(figsize=FIGSIZE)
        fig.clear()
        axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    ax_flow, ax_gap = axes
    fig = ax_flow.figure
    for ax in axes:
        ax.clear()
    draw_flow(ax_flow, state.train, state.sigma, state.delta, val=state.val, guidance=state.guidance,
              delta_neg=state.delta_neg, field=state.field, density=0.75,
              title=f"flow field $y(x;\\sigma) - x$ at $\\sigma$ = {state.sigma:.3g}")
    # With delta = 0 the training error goes to 0 at small sigma (one weight is 1): the relative
    # gap grows without bound there and is left out of the plot above GAP_CAP.
    shown = np.isfinite(state.gap) & (np.abs(state.gap) <= GAP_CAP)
    gap = np.where(shown, state.gap, np.nan)
    ax_gap.semilogx(state.sigmas, gap, color="tab:blue", lw=1.8, label="relative gap")
    if shown.any() and np.nanmax(np.abs(gap)) > 5:
        ax_gap.set_yscale("symlog", linthresh=0.5)
    ax_gap.set_xlim(float(state.sigmas.min()), float(state.sigmas.max()))
    ax_gap.axhline(0.0, color="0.6", lw=0.8)
    ax_gap.axvline(state.sigma, color="tab:orange", lw=1.2, ls="--", label="current $\\sigma$")
    if np.isfinite(state.gap_at_sigma) and abs(state.gap_at_sigma) <= GAP_CAP:
        ax_gap.plot([state.sigma], [state.gap_at_sigma], "o", color="tab:orange", ms=6)
    if np.isfinite(state.peak_gap) and abs(state.peak_gap) <= GAP_CAP:
        ax_gap.plot([state.peak_sigma], [state.peak_gap], "v", color="tab:blue", ms=6,
                    label=f"peak {state.peak_gap:.3g} at $\\sigma$ = {state.peak_sigma:.3g}")
    if not shown.all():
        below = float(state.sigmas[~shown].max())
        ax_gap.text(0.98, 0.04, f"gap > {GAP_CAP:g} (train error $\\to$ 0)\nfor $\\sigma \\leq$ {below:.2g}: not shown",
                    transform=ax_gap.transAxes, ha="right", va="bottom", fontsize=8)
    ax_gap.set_xlabel("$\\sigma$")
    ax_gap.set_ylabel("(val - train) / train")
    ax_gap.set_title("relative gap of the toy model", fontsize=10)
    ax_gap.legend(fontsize=8, loc="upper left")
    fig.suptitle(state.label, fontsize=11)
    return fig, axes


def render_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------
# Live widget


LIVE_NOTE = "<small>Move a slider: both panels are recomputed by the running kernel.</small>"
SAVED_NOTE = ("<small><b>Sliders disabled:</b> this is the explorer as saved when the book was "
              "built, with no kernel behind it; open the chapter in Jupyter to move them (the "
              "player below works anywhere).</small>")


class Explorer:
    """ipywidgets sliders for delta, sigma, N and w that redraw the state live.

    ``widget`` is the box to display; :meth:`update` recomputes and redraws (the sliders call it,
    and so can code and tests). The drawing goes to an ``ipywidgets.Image`` as PNG, so the notebook
    file keeps the last drawn state in its widget state.
    """

    def __init__(self, delta: float = 1.6, sigma: float = 1.0, n_train: int = 10, guidance: float = 0.0,
                 neg_offset: float = NEG_OFFSET, dpi: int = 100, live: bool = True):
        import ipywidgets as W

        self.neg_offset = neg_offset
        self.dpi = dpi
        lo, hi, step = SLIDER_RANGES["delta"]
        d = W.FloatSlider(value=delta, min=lo, max=hi, step=step, description="δ (model error)",
                          continuous_update=False, style={"description_width": "initial"})
        lo, hi, step = SLIDER_RANGES["sigma"]
        s = W.FloatLogSlider(value=sigma, base=10, min=lo, max=hi, step=step, description="σ (noise)",
                             continuous_update=False, readout_format=".3g")
        lo, hi, step = SLIDER_RANGES["n_train"]
        n = W.IntSlider(value=n_train, min=lo, max=hi, step=step, description="N (train points)",
                        continuous_update=False, style={"description_width": "initial"})
        lo, hi, step = SLIDER_RANGES["guidance"]
        w = W.FloatSlider(value=guidance, min=lo, max=hi, step=step, description="w (guidance)",
                          continuous_update=False, style={"description_width": "initial"})
        self.sliders = {"delta": d, "sigma": s, "n_train": n, "guidance": w}
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.status = W.HTML()
        note = W.HTML(LIVE_NOTE if live else SAVED_NOTE)
        for slider in self.sliders.values():
            slider.disabled = not live
        self.widget = W.VBox([note, W.HBox([d, s]), W.HBox([n, w]), self.status, self.image],
                             layout=W.Layout(max_width="100%"))
        self.fig = Figure(figsize=FIGSIZE)
        self.axes = None
        self.state: Optional[ExplorerState] = None
        self._syncing = False
        for slider in self.sliders.values():
            slider.observe(self._on_change, names="value")
        self.update()

    def values(self) -> Dict[str, float]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def _on_change(self, _change) -> None:
        if not self._syncing:
            self.update()

    def update(self, delta: Optional[float] = None, sigma: Optional[float] = None,
               n_train: Optional[int] = None, guidance: Optional[float] = None) -> ExplorerState:
        """Recompute and redraw for the given values (None: the slider's current value); the
        sliders are moved to the values given. Returns the new state."""
        given = {"delta": delta, "sigma": sigma, "n_train": n_train, "guidance": guidance}
        values = self.values()
        values.update({k: v for k, v in given.items() if v is not None})
        check_values(**values)
        self._syncing = True
        try:
            for name, value in values.items():
                self.sliders[name].value = value
        finally:
            self._syncing = False
        state = compute_state(values["delta"], values["sigma"], int(values["n_train"]),
                              values["guidance"], neg_offset=self.neg_offset)
        if self.axes is None:
            self.axes = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
        draw_state(state, axes=self.axes)
        self.image.value = render_png(self.fig, self.dpi)
        self.status.value = (f"<small>relative gap at this σ: <b>{state.gap_at_sigma:.3g}</b>; "
                             f"largest gap {state.peak_gap:.3g} at σ = {state.peak_sigma:.3g}</small>")
        self.state = state
        return state


# ----------------------------------------------------------------------------------------------
# Precomputed frames for static HTML


def precompute_states(base: Mapping[str, float], sweeps: Mapping[str, Sequence[float]],
                      neg_offset: float = NEG_OFFSET) -> List[ExplorerState]:
    """A tour of states: for each slider in ``sweeps``, its values one after another with the other
    sliders held at ``base`` (keys delta, sigma, n_train, guidance). A state already in the tour
    (the base state met again in a later sweep) is not repeated."""
    keys = ("delta", "sigma", "n_train", "guidance")
    missing = [k for k in keys if k not in base]
    if missing or set(sweeps) - set(keys):
        raise ValueError(f"base needs {keys}; sweeps may only vary them (missing {missing}, "
                         f"unknown {sorted(set(sweeps) - set(keys))})")
    states, seen = [], set()
    for name, values in sweeps.items():
        for value in values:
            v = dict(base)
            v[name] = value
            key = (float(v["delta"]), float(v["sigma"]), int(v["n_train"]), float(v["guidance"]))
            if key in seen:
                continue
            seen.add(key)
            states.append(compute_state(*key, neg_offset=neg_offset))
    return states


def animation_html(states: Sequence[ExplorerState], interval_ms: int = 1200, dpi: int = 100,
                   embed_limit_mb: float = 8.0) -> str:
    """The states as a JavaScript animation (HTML with embedded PNG frames and a slider), which
    needs no kernel. Each frame is a full :func:`draw_state` drawing."""
    from matplotlib import animation

    if not states:
        raise ValueError("no states to animate")
    fig = Figure(figsize=FIGSIZE, dpi=dpi)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})

    def frame(i):
        draw_state(states[i], axes=axes)
        return []

    anim = animation.FuncAnimation(fig, frame, frames=len(states), interval=interval_ms, blit=False)
    import matplotlib

    old = matplotlib.rcParams["animation.embed_limit"]
    matplotlib.rcParams["animation.embed_limit"] = embed_limit_mb
    try:
        html = anim.to_jshtml(fps=1000.0 / interval_ms, default_mode="once")
    finally:
        matplotlib.rcParams["animation.embed_limit"] = old
    return offline_player(html)


# matplotlib's player draws its buttons with Font Awesome icons loaded from a CDN; the book
# reads offline, so the icons become characters and the stylesheet link goes.
_PLAYER_ICONS = {
    "fa fa-minus": "\u2212", "fa fa-fast-backward": "\u23ee", "fa fa-step-backward": "\u23f4\u2759",
    "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u23f8", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u2759\u23f5", "fa fa-fast-forward": "\u23ed", "fa fa-plus": "+",
}


def offline_player(html: str) -> str:
    """A matplotlib JavaScript player that requests nothing from outside the page."""
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "", html)
    for css, char in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{css}"></i>', char)
    if "://" in re.sub(r"data:[^\"']*", "", html):
        raise ValueError("the animation player still refers to an external resource")
    return html
