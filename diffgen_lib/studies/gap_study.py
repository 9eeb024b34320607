"""The training-gap chapter's runs and their summaries: the chapter's run configurations from its
parameters, the gap curves and peaks of sets of runs, the per-seed statistics of C2a and C3, the
EMA's half-life in steps and the runs compared across the two scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from .. import train
from ..measure import evaluation, metrics, summaries
from ..measure.evaluation import GapCurves
from ..runs import TrainConfig
from . import experiments, training_gap


@dataclass
class ChapterConfigs:
    """Every run of the training-gap chapter: the main run, one per width, per training-set size,
    the class-conditional run, the main run and the extreme widths per training seed, and the
    second scale's run, its training-set sizes and its training seeds."""

    main: TrainConfig
    widths: Dict[int, TrainConfig]
    sizes: Dict[int, TrainConfig]
    class_conditional: TrainConfig
    seeds: Dict[int, TrainConfig]
    width_seeds: Dict[tuple, TrainConfig]
    scale2: TrainConfig
    scale2_sizes: Dict[int, TrainConfig]
    scale2_seeds: Dict[int, TrainConfig]

    def all(self) -> list:
        """Every configuration, the second scale's first (the longest runs), each as often as listed."""
        return [*self.scale2_sizes.values(), *self.scale2_seeds.values(), self.main, *self.widths.values(),
                *self.sizes.values(), self.class_conditional, *self.seeds.values(), *self.width_seeds.values()]


def chapter_configs(params: Mapping[str, Any]) -> ChapterConfigs:
    """The runs of the chapter's parameters ``params`` (the first seed run is the main run, the
    second scale's first size and seed runs its main run)."""
    p = params
    common = dict(dataset=p["dataset"], steps=p["steps"], seed=p["seed"], device=p["device"], n_val=p["n_val"],
                  n_feature=p["n_feature"], model=p["model"], batch_size=p["batch_size"], precision=p["precision"],
                  compile=p["compile"])
    main = experiments.gap_run(n_train=p["n_train"], channels=p["channels"], **common)
    seed_list = [p["seed"] + k for k in range(p["n_seeds"])]
    seeds = {s: experiments.gap_run(n_train=p["n_train"], channels=p["channels"], **{**common, "seed": s})
             for s in seed_list}
    assert seeds[p["seed"]] == main
    extreme_widths = sorted({min(p["widths"]), max(p["widths"])})
    return ChapterConfigs(
        main=main,
        widths=experiments.width_runs(p["widths"], n_train=p["n_train"], **common),
        sizes=experiments.size_runs(p["size_trains"], channels=p["channels"], **common),
        class_conditional=experiments.gap_run(n_train=p["n_train"], channels=p["channels"], labels="class", **common),
        seeds=seeds,
        width_seeds={(w, s): experiments.gap_run(n_train=p["n_train"], channels=w, **{**common, "seed": s})
                     for w in extreme_widths for s in seed_list},
        scale2=experiments.second_scale_run(p),
        scale2_sizes=experiments.second_scale_size_runs(p),
        scale2_seeds=experiments.second_scale_seed_runs(p))


def curves_of(configs: Mapping, n_eval: int, weights: Optional[str] = None) -> Dict:
    """The gap curves of every run of ``configs`` (trained or loaded), under the same keys;
    ``weights``: "raw" (default) or "ema"."""
    extra = {} if weights is None else {"weights": weights}
    return {k: evaluation.gap_curves(train.train(c), n_eval=n_eval, **extra) for k, c in configs.items()}


def peaks_of(curves: Mapping[Any, GapCurves]) -> Dict:
    """:func:`summaries.peaks` (every snapshot's peak gap, its sigma and grid index) of every curve set."""
    return {k: summaries.peaks(c.sigmas, c.gap) for k, c in curves.items()}


def seed_statistics(curves: Mapping[int, GapCurves], peak_margin: int) -> Dict[str, Dict]:
    """Per training seed: C3's statistics of the last snapshot (``"c3"``: :func:`training_gap.peak_shape`)
    and the rank correlation of the peak gap with the training step (``"rho"``)."""
    peaks = peaks_of(curves)
    return {"c3": {s: training_gap.peak_shape(c.sigmas, c.gap[-1], peak_margin) for s, c in curves.items()},
            "rho": {s: metrics.rank_correlation(c.steps, peaks[s]["peak_gap"]) for s, c in curves.items()}}


def ema_halflife_images(config: TrainConfig, steps: int, batch_size: int) -> float:
    """The EMA's half-life in images at the end of training: ``ema_halflife_kimg``, capped by the
    ramp-up (``ema_rampup_ratio`` times the images seen)."""
    return min(config.ema_halflife_kimg * 1000, (config.ema_rampup_ratio or math.inf) * (steps - 1) * batch_size)


def scale_runs(configs: ChapterConfigs, main, main_curves: GapCurves, scale2, scale2_curves: GapCurves,
               n_eval: int) -> Dict[str, tuple]:
    """(run, gap curves) of the main run (``main``), the second-scale run (``scale2``) and the
    second scale's further training-set sizes of ``configs``, keyed by the names the chapter shows."""
    runs = {"main run": (main, main_curves), "second scale": (scale2, scale2_curves)}
    for n, c in configs.scale2_sizes.items():
        if c != configs.scale2:
            r = train.train(c)
            runs[f"second scale, N={n}"] = (r, evaluation.gap_curves(r, n_eval=n_eval))
    return runs
