"""Guidance on a class-conditional network (trained with label dropout): D_w = D_pos + w (D_pos -
D_neg) (:func:`diffgen_lib.diffusion.guided`). Classifier-free guidance takes D_neg = the same
network with the NULL label, autoguidance an earlier (less-trained) snapshot of the same network
with the same labels.

One loop (:func:`guided_rows`) draws the guided samples of every kind, weight and sample set and
hands them to a measurement; two measurements use it:

- :func:`guidance_sweep`, the paper's measurement: per kind and weight the inference gap (the
  uncalibrated FD protocol), the copy fraction and the training-objective gap of D_w;
- :func:`guidance_calibration`: the calibrated statistics of the guided samples over sample seeds
  and reference draws, beside the null, the copier, the Gaussian and the exchanged null, as a
  :class:`GuidanceCalibration`.

Both are cached on disk (key: the run's cache key and the settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import cache, diffusion, features
from ..measure import evaluation, metrics
from ..measure.calibration import Calibration
from ..measure.exchange import exchange_null
from ..measure.inference import sample_set
from ..measure.protocol import InferenceProtocol
from ..measure.references import GaussianFit, heldout_pool
from ..measure.statistics import index_draws
from ..networks import resolve_device
from ..runs import TrainedRun
from ..seeds import GUIDED_SAMPLES
from .factors import eval_sigmas

Tensor = torch.Tensor
GUIDANCE_KINDS = diffusion.GUIDANCE_KINDS
_SOURCES = cache.sources("studies/guidance.py", "measure/metrics.py", "diffusion.py", "measure/evaluation.py",
                         "features.py", "measure/calibration.py", "measure/exchange.py", "measure/statistics.py",
                         "measure/protocol.py", "measure/references.py", "measure/inference.py", "measure/intervals.py",
                         "seeds.py")


def check_guidance_run(run: TrainedRun, negative_step: int) -> None:
    """Guidance needs a conditional run trained with label dropout and a snapshot for autoguidance."""
    if not run.config.conditional or run.config.label_dropout <= 0:
        raise ValueError("guidance needs a conditional run trained with label dropout")
    if negative_step not in run.snapshots:
        raise ValueError(f"no snapshot at step {negative_step}; the run has {sorted(run.snapshots)}")


def guided_rows(run: TrainedRun, weights: Sequence[float], negative_step: int, sample_sets: Sequence[int],
                labels: Tensor, measure: Callable[[Callable, Tensor], Any], n_gen: int, n_steps: int,
                progress: bool = True, desc: str = "guidance") -> Dict[Tuple[str, float], List[Any]]:
    """``measure(D_w, samples)`` for every guidance kind, weight w and sample set s: ``{(kind, w):
    [one result per sample set]}``. Sample i of set s starts from the noise of
    ``GUIDED_SAMPLES.seed(s, i)`` with label ``labels[i]``; D_0 = D_pos for every kind, so w = 0 is
    measured once and shared."""
    from ..progress import progress_bar

    device = resolve_device(run.config.device)
    pos, early = run.denoiser, run.snapshots[negative_step]
    sets = [int(s) for s in sample_sets]
    rows: Dict[Tuple[str, float], List[Any]] = {}
    jobs = [(kind, float(w), s) for kind in GUIDANCE_KINDS for w in weights for s in sets]
    for kind, w, s in progress_bar(jobs, desc=desc, disable=not progress):
        if w == 0 and kind != GUIDANCE_KINDS[0]:  # D_0 = D_pos for every kind
            rows.setdefault((kind, w), []).append(rows[GUIDANCE_KINDS[0], w][sets.index(s)])
            continue
        den = diffusion.guided(pos, pos if kind == "cfg" else early, w, null_negative=kind == "cfg")
        samples = sample_set(den, n_gen, run.splits.image_shape, labels, n_steps, device,
                             seed_base=GUIDED_SAMPLES.seed(s))
        rows.setdefault((kind, w), []).append(measure(den, samples))
    return rows


def _cycled(labels: Tensor, n: int) -> Tensor:
    """n labels cycling through ``labels``: the val set's class prior."""
    return labels[torch.arange(n) % len(labels)]


# ----------------------------------------------------------------------------------------------
# The paper's measurement


def guidance_sweep(run: TrainedRun, weights: Sequence[float], negative_step: int, n_gen: int = 300,
                   n_steps: int = 18, n_ref: int = 150, n_subsets: int = 4, n_eval: int = 200,
                   sigmas: Optional[Sequence[float]] = None, seed: int = 0, progress: bool = True,
                   extra_features: Optional[features.PretrainedFeatures] = None) -> Dict[str, dict]:
    """For each kind in :data:`GUIDANCE_KINDS` and each weight (one sample set): inference gap
    (pixels and classifier features, and ``extra_features`` when given; ``seed`` draws the train
    subsets of the FD protocol), copy fraction and memorization ratios of the samples,
    training-objective gap of D_w on ``sigmas``.

    Returns ``{kind: {"weights", "gap/<space>", "fd_val/<space>", ..., "copy_fraction",
    "ratios" (W, n_gen), "train_error", "val_error", "train_gap" (W, S)}, "sigmas": ...}``.
    """
    config = run.config
    check_guidance_run(run, negative_step)
    sigmas = eval_sigmas(0.01, 10.0, 2) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    weights = [float(w) for w in weights]
    key = {"run": run.key, "weights": weights, "negative_step": int(negative_step),
           "n_gen": n_gen, "n_steps": n_steps, "n_ref": n_ref, "n_subsets": n_subsets,
           "n_eval": n_eval, "sigmas": [float(s) for s in sigmas], "seed": seed}
    key = features.with_features_identity(key, extra_features)

    def compute():
        device = resolve_device(config.device)
        protocol = InferenceProtocol(run, n_ref, n_subsets, seed, device, extra_features)

        def measure(den, samples):
            ratios = metrics.memorization_ratio(samples, run.splits.train.images)
            row = protocol.table(samples)
            row["copy_fraction"] = metrics.copy_fraction(ratios)
            row["ratios"] = ratios
            row.update(evaluation.denoising_gap(den, run, n_eval, sigmas, device))
            return row

        labels = _cycled(features.class_splits(config).val.labels, n_gen)
        rows = guided_rows(run, weights, negative_step, [0], labels, measure, n_gen, n_steps, progress)
        result: Dict[str, Any] = {"sigmas": torch.from_numpy(sigmas)}
        for kind in GUIDANCE_KINDS:
            rs = [rows[kind, w][0] for w in weights]
            result[kind] = {"weights": torch.tensor(weights, dtype=torch.float64)}
            for name in rs[0]:
                result[kind][name] = torch.from_numpy(np.stack([np.asarray(r[name], dtype=np.float64) for r in rs]))
        return result

    return cache.cached_result("factors-guidance", key, compute, _SOURCES)


# ----------------------------------------------------------------------------------------------
# Calibrated statistics of guided samples


@dataclass
class GuidanceCalibration:
    """Calibrated statistics of guided samples (S sample seeds, R reference draws, E exchanged
    draws); every statistic is keyed "<space>/<stat>" as in :meth:`Calibration.statistics`."""

    weights: List[float]
    n_ref: int
    n_heldout: int
    guided: Dict[Tuple[str, float], Dict[str, np.ndarray]]  # (kind, w) -> stat -> (S, R)
    null: Dict[str, np.ndarray]                               # stat -> (R,)
    copier: Dict[str, np.ndarray]                             # stat -> (R,)
    gaussian: Dict[str, np.ndarray]                           # stat -> (S, R)
    exchange: Dict[str, np.ndarray]                           # stat -> (E,): the exchanged null

    def values(self, kind: str, weight: float, stat: str) -> np.ndarray:
        """The raw statistic (S, R) of the samples guided by ``kind`` at ``weight``."""
        return self.guided[kind, float(weight)][stat]

    def index(self, kind: str, weight: float, stat: str) -> np.ndarray:
        """Per-draw memorization index (S, R) of the samples guided by ``kind`` at ``weight``."""
        return index_draws(self.values(kind, weight, stat), self.null[stat], self.copier[stat])

    def gaussian_index(self, stat: str) -> np.ndarray:
        """Per-draw memorization index (S, R) of the Gaussian fitted to the training pixels."""
        return index_draws(self.gaussian[stat], self.null[stat], self.copier[stat])


def _stacked(rows: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    return {stat: np.stack([r[stat] for r in rows]) for stat in rows[0]}


def guidance_calibration(run: TrainedRun, weights: Sequence[float], negative_step: int, seeds: Sequence[int],
                         n_draws: int = 5, n_gen: int = 300, n_steps: int = 18, n_ref: int = 300,
                         ref_seed: int = 0, progress: bool = True,
                         extra_features: Optional[features.PretrainedFeatures] = None) -> GuidanceCalibration:
    """Calibrated statistics of guided samples for classifier-free guidance and autoguidance
    (D_neg: the snapshot at ``negative_step``) at each weight, over the sample sets ``seeds``
    (:func:`guided_rows`; labels: the val split's class prior in turn) and reference draws, cached."""
    check_guidance_run(run, negative_step)
    seeds, weights = [int(s) for s in seeds], [float(w) for w in weights]
    key = {"run": run.key, "weights": weights, "negative_step": int(negative_step), "seeds": seeds,
           "n_draws": int(n_draws), "n_gen": int(n_gen), "n_steps": int(n_steps), "n_ref": int(n_ref),
           "ref_seed": int(ref_seed)}
    key = features.with_features_identity(key, extra_features)

    def compute():
        sp = run.splits
        held_images, held_labels = heldout_pool(run)
        cal = Calibration(sp.train.images, sp.train.labels, held_images, held_labels,
                          features.feature_spaces(run.config, extra_features, resolve_device(run.config.device)),
                          n_gen, n_ref, n_draws, ref_seed)
        rows = guided_rows(run, weights, negative_step, seeds, _cycled(sp.val.labels, n_gen),
                           lambda den, samples: cal.model_statistics(samples), n_gen, n_steps, progress,
                           desc="guidance calibration")
        out: Dict[str, Tensor] = {"n_ref": torch.tensor(cal.n_ref), "n_heldout": torch.tensor(len(held_images))}
        sets = {f"{kind}/{w:g}": _stacked(rs) for (kind, w), rs in rows.items()}
        gauss = GaussianFit(sp.train.images)
        sets["gaussian"] = _stacked([cal.model_statistics(gauss.sample(n_gen, s)) for s in seeds])
        sets.update(cal.calibration_statistics())
        sets["exchange"] = exchange_null(sp.train.labels, held_images, held_labels, cal.spaces, n_gen, n_ref,
                                         seed=ref_seed)
        for name, stats in sets.items():
            out.update({f"{name}/{stat}": torch.from_numpy(np.asarray(v)) for stat, v in stats.items()})
        return out

    r = {k: v.numpy() for k, v in cache.cached_result("guidance-calibration", key, compute, _SOURCES).items()}

    def part(prefix: str) -> Dict[str, np.ndarray]:
        return {k[len(prefix) + 1:]: v for k, v in r.items() if k.startswith(prefix + "/")}

    return GuidanceCalibration(weights, int(r["n_ref"]), int(r["n_heldout"]),
                               {(kind, w): part(f"{kind}/{w:g}") for kind in GUIDANCE_KINDS for w in weights},
                               part("null"), part("copier"), part("gaussian"), part("exchange"))
