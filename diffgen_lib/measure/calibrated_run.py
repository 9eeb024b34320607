"""A run's calibrated statistics over its snapshots (:func:`run_calibration`), as a
:class:`RunCalibration`: the model's statistics beside the null, the copier, the Gaussian fitted to
the training pixels, the copy mixtures and the exchanged null, with the memorization index of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import features
from ..runs import TrainedRun
from . import calibration
from .calibration import reference_statistics, snapshot_calibration
from .exchange import run_exchange_null
from .statistics import index_draws, memorization_index


@dataclass
class RunCalibration:
    """Calibrated statistics of the snapshots of one run (T snapshots, S seeds, R draws, M samples,
    K sampler steps)."""

    steps: np.ndarray                      # (T,)
    n_ref: int
    n_heldout: int                         # held-out images (val split and unused ones) of the val reference and the null
    dilution: float
    final: Dict[str, Dict[str, np.ndarray]]    # stat -> set -> model/gaussian (T, S, R), null/copier (T, R)
    ratios: Dict[str, np.ndarray]          # set -> model/gaussian (T, S, M), null/copier (T, M)
    partial: Dict[str, Dict[str, np.ndarray]]  # stat -> set -> model (S, R, K), null/copier (R, K): last partial snapshot
    sigmas: Optional[np.ndarray]           # (K,) sampler sigmas of the partial statistics
    exchange: Dict[str, np.ndarray] = field(default_factory=dict)  # stat -> (E,): the exchanged null (:func:`exchange_null`)
    mixtures: Dict[float, Dict[str, np.ndarray]] = field(default_factory=dict)  # p -> stat -> (R,): copy mixtures

    @property
    def stats(self) -> List[str]:
        return list(self.final)

    def index(self, stat: str, t: int = -1, which: str = "model") -> np.ndarray:
        """Per-draw memorization index (S, R) of ``which`` (model or gaussian) at snapshot t."""
        f = self.final[stat]
        return index_draws(f[which][t], f["null"][t], f["copier"][t])

    def partial_index(self, stat: str, model: Optional[np.ndarray] = None) -> np.ndarray:
        """Per-draw memorization index (S, R, K) of partial inference at every sampler step; with
        ``model`` (S, R, K) another sampler's early-stopped statistics on this run's scale (the
        optimal denoiser's, a positive control)."""
        p = self.partial[stat]
        model = p["model"] if model is None else np.asarray(model)
        return (model - p["null"][None]) / (p["copier"] - p["null"])[None]

    def mixture_index(self, stat: str) -> Dict[float, np.ndarray]:
        """Per-draw index (R,) of each copy mixture (p -> index): about p for the NN gap."""
        f = self.final[stat]
        return {p: memorization_index(m[stat], f["null"][-1], f["copier"][-1]) for p, m in self.mixtures.items()}

    def copy_equivalent(self, index_value: float, stat: str = "pixels/nn_gap") -> float:
        """The copy fraction p whose mixture has this index (mean over draws), interpolated
        linearly between the measured mixtures; clamped to [0, 1]."""
        mix = self.mixture_index(stat)
        ps = np.array(sorted(mix))
        values = np.array([mix[p].mean() for p in ps])
        order = np.argsort(values)
        return float(np.clip(np.interp(index_value, values[order], ps[order]), 0.0, 1.0))

    def quality_index(self, t: int = -1, which: str = "model", space: str = "classifier") -> np.ndarray:
        """How unlike the data the samples are (S, R): their mean distance to the nearest image of the
        val reference (``space`` features) on a scale where fresh held-out images (the null) are 0 and
        the Gaussian fitted to the training pixels is 1 (its mean over sample seeds, per draw).
        Copies of training images are as far from the val reference as fresh images: about 0."""
        f = self.final[f"{space}/nn_val"]
        gauss = f["gaussian"][t].mean(0)
        return index_draws(f[which][t], f["null"][t], gauss)


@dataclass
class OptimalCalibration:
    """The optimal (empirical) denoiser's sampler from a run's initial noise, on the run's
    references (:func:`calibration.optimal_calibration`): the positive control of the inference
    claims (S sample seeds, R reference draws, M samples, K sampler steps)."""

    final: Dict[str, np.ndarray]    # stat -> (S, R): its samples' statistics
    ratios: np.ndarray              # (S, M): their memorization ratios d1/d2
    partial: Dict[str, np.ndarray]  # stat -> (S, R, K): its early-stopped outputs D*(x_k; sigma_k)
    decided: np.ndarray             # (S, K): the share of samples whose nearest training image is decided


def optimal_run_calibration(run: TrainedRun, seeds: Sequence[int], **kwargs) -> OptimalCalibration:
    """:func:`calibration.optimal_calibration` of a run (cached) as an :class:`OptimalCalibration`."""
    r = {k: v.numpy() for k, v in calibration.optimal_calibration(run, seeds, **kwargs).items()}
    part = lambda prefix: {k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)}  # noqa: E731
    return OptimalCalibration(part("final/"), r["ratios"], part("partial/"), r["decided"])


def _calibration_from(rows: List[dict], refs: dict, chosen: List[int], exchange: dict) -> RunCalibration:
    """A :class:`RunCalibration` from cached snapshot rows and the run's reference statistics."""
    T = len(chosen)
    stats = [k.split("/", 1)[1].rsplit("/", 1)[0] for k in rows[0] if k.startswith("final/")]
    final = {}
    for st in stats:
        final[st] = {"model": np.stack([r[f"final/{st}/model"].numpy() for r in rows]),
                     "gaussian": np.repeat(refs[f"gaussian/{st}"].numpy()[None], T, axis=0),
                     "null": np.repeat(refs[f"null/{st}"].numpy()[None], T, axis=0),
                     "copier": np.repeat(refs[f"copier/{st}"].numpy()[None], T, axis=0)}
    ratios = {"model": np.stack([r["ratios/model"].numpy() for r in rows])}
    ratios.update({name: np.repeat(refs[f"ratios/{name}"].numpy()[None], T, axis=0)
                   for name in ("gaussian", "null", "copier")})
    with_partial = [r for r in rows if "sigmas" in r]
    partial, sigmas = {}, None
    if with_partial:
        p = with_partial[-1]
        sigmas = p["sigmas"].numpy()
        partial = {st: {name: p[f"partial/{name}/{st}"].numpy() for name in ("model", "null", "copier")}
                   for st in [k.split("/", 2)[2] for k in p if k.startswith("partial/model/")]}
    fractions = sorted({float(k.split("/")[1]) for k in refs if k.startswith("mixture/")})
    mixtures = {f: {k[len(f"mixture/{f:g}/"):]: v.numpy() for k, v in refs.items() if k.startswith(f"mixture/{f:g}/")}
                for f in fractions}
    return RunCalibration(np.array(chosen), int(refs["n_ref"]), int(refs["n_heldout"]), float(refs["dilution"]),
                          final, ratios, partial, sigmas, exchange, mixtures)


def run_calibration(run: TrainedRun, seeds: Sequence[int], n_draws: int = 5, n_gen: int = 300, n_steps: int = 18,
                    n_ref: int = 300, partial_steps: Sequence[int] = (), steps: Optional[Sequence[int]] = None,
                    partial_k=True,
                    ref_seed: int = 0, progress: bool = True,
                    extra_features: Optional[features.PretrainedFeatures] = None) -> RunCalibration:
    """:func:`snapshot_calibration` for every snapshot (or ``steps``) of a run, with partial
    inference at the snapshots in ``partial_steps`` (the last of them is kept; at the sampler steps
    ``partial_k``: True for all), beside the run's
    :func:`reference_statistics` and its exchanged null."""
    from ..progress import progress_bar

    config = run.config
    chosen = sorted(set(int(s) for s in (steps if steps is not None else
                                          list(config.snapshot_steps or ()) + [config.max_steps])))
    refs = reference_statistics(run, seeds, n_draws, n_gen, n_ref, ref_seed, extra_features)
    rows = [snapshot_calibration(run, s, seeds, n_draws, n_gen, n_steps, n_ref,
                                 partial_k if s in set(partial_steps) else False,
                                 ref_seed, extra_features=extra_features)
            for s in progress_bar(chosen, desc=f"calibration n_train={config.n_train}", disable=not progress)]
    exchange = run_exchange_null(run, n_gen, n_ref, ref_seed, extra_features)
    return _calibration_from(rows, refs, chosen, exchange)
