"""The trajectory chapter's claims (C5): where the sampler's states lie relative to the noisy
training images at the same noise level, inside the band where the training gap lives, with the
optimal denoiser's trajectories (which run through the noisy training images by construction) and
the memorizing run as positive controls, and split by outcome (trajectories that end in a copy
against the others).

The statistic is the *shell index* of :func:`trajectories.shell_index`: 0 when the states are as
far from the training images as noisy fresh images, 1 when as close as noisy training images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .. import cache
from ..measure import evaluation, inference, intervals, metrics, summaries, trajectories
from ..measure.verdicts import ORDER
from ..runs import TrainedRun
from . import claims
from .claims import ClaimRecord, Criterion

_SOURCES = cache.sources("measure/trajectories.py", "measure/metrics.py", "diffusion.py", "measure/inference.py",
                         "analytic.py")
MIN_SHELL_SEPARATION = 0.02  # the shell index is drawn where noisy train and val r differ by 2%
SEPARATION_AUC = 0.75  # copying trajectories "separate" from the others where their r is smaller with this AUC


@dataclass
class ShellDraw:
    """One sample set's trajectories: the distances r per step of the states and of the noisy
    references, and which final samples are copies."""

    sigmas: np.ndarray
    r: Dict[str, np.ndarray]
    copies: np.ndarray

    @property
    def index(self) -> np.ndarray:
        return trajectories.shell_index(self.r)

    def resolved(self, min_separation: float = MIN_SHELL_SEPARATION) -> np.ndarray:
        """Per step (K,): whether noisy training and noisy fresh images lie at distinguishable
        distances r (relative difference at least ``min_separation``); elsewhere the shell index
        divides by about 0 and says nothing."""
        v, c = self.r["val"].mean(1), self.r["train"].mean(1)
        return (v - c) >= min_separation * v


def _shell(key: dict, rec: dict, train_images, val_images, n_ref: int, seed: int) -> ShellDraw:
    def compute():
        r = trajectories.shell_distances(rec["states"], rec["sigmas"].numpy(), train_images, val_images, n_ref, seed)
        ratios = metrics.memorization_ratio(rec["final"], train_images)
        return {"sigmas": rec["sigmas"], **{k: torch.from_numpy(v) for k, v in r.items()},
                "copies": torch.from_numpy(ratios < metrics.COPY_THRESHOLD)}

    out = cache.cached_result("shell-distances", {**key, "n_ref": int(n_ref), "seed": int(seed)}, compute, _SOURCES)
    return ShellDraw(out["sigmas"].numpy(), {k: out[k].numpy() for k in trajectories.SETS}, out["copies"].numpy())


def shell_draws(run: TrainedRun, n_samples: int, n_steps: int, sample_seeds: Sequence[int], n_ref: int) -> List[ShellDraw]:
    """A :class:`ShellDraw` per sample seed of the run's last snapshot (its sampler records, the
    inference chapter's cache entries), each with its own noisy references."""
    step = max(run.snapshots)
    out = []
    for s in sample_seeds:
        rec = inference.snapshot_sampler_record(run, step, n_samples, n_steps, s)
        key = {"run": run.key, "step": step, "n": int(n_samples), "n_steps": int(n_steps), "sample_seed": int(s)}
        out.append(_shell(key, rec, run.splits.train.images, run.splits.val.images, n_ref, s))
    return out


def optimal_shell_draws(run: TrainedRun, n_samples: int, n_steps: int, sample_seeds: Sequence[int],
                        n_ref: int) -> List[ShellDraw]:
    """The same for the optimal-denoiser sampler of the run's training set (the positive control)."""
    out = []
    for s in sample_seeds:
        rec = inference.optimal_sampler_record(run, n_samples, n_steps, s)
        key = {"optimal": inference.split_identity(run), "n": int(n_samples), "n_steps": int(n_steps),
               "sample_seed": int(s)}
        out.append(_shell(key, rec, run.splits.train.images, run.splits.val.images, n_ref, s))
    return out


def band_steps(curves: evaluation.GapCurves, sigmas) -> List[int]:
    """The sampler steps inside the band where the last snapshot's training gap exceeds half its peak."""
    return summaries.steps_in(sigmas, *summaries.half_peak_band(curves.sigmas, curves.gap[-1]))


def _per_step(groups: Dict[int, List[ShellDraw]], steps: Sequence[int], covers: str) -> List[intervals.Estimate]:
    """The shell index at each step: the mean over training seeds (groups) of the mean over sample
    seeds, with the nested interval."""
    return [intervals.nested_bootstrap([[d.index[k] for d in draws] for _, draws in sorted(groups.items())],
                                       covers=covers) for k in steps]


def _weakest(estimates: List[intervals.Estimate], criterion: Criterion) -> tuple:
    """(position of the deciding step, its estimate): the weakest verdict, then the mean furthest
    on the wrong side."""
    sign = 1.0 if criterion.comparison in (">", ">=") else -1.0
    j = min(range(len(estimates)), key=lambda i: (ORDER[criterion.judge(estimates[i])],
                                                   sign * (estimates[i].value - criterion.threshold)))
    return j, estimates[j]


def shell_claim(claim_id: str, label: str, groups: Dict[int, List[ShellDraw]], steps: Sequence[int],
                criterion: Criterion, controls: Dict[str, Dict[int, List[ShellDraw]]], covers: str) -> ClaimRecord:
    """A C5 claim: the shell index at every sampler step of the band meets the criterion (the
    weakest step decides); each control judged the same way at the same steps."""
    if not len(steps):
        return claims.not_judged(claim_id, f"{label}: shell index in the training gap's band", criterion,
                                 "no sampler step in the band")
    sig = next(iter(groups.values()))[0].sigmas
    est = _per_step(groups, steps, covers)
    j, deciding = _weakest(est, criterion)
    judged_controls = {}
    for what, g in controls.items():
        _, e = _weakest(_per_step(g, steps, ""), criterion)
        judged_controls[what] = e
    where = ", ".join(f"{sig[k]:.3g}" for k in steps)
    return claims.claim(claim_id, [(f"{label}: shell index of the trajectory states at the sampler steps in the "
                                    f"training gap's band (sigma {where}; deciding step sigma {sig[steps[j]]:.3g})",
                                    deciding, criterion)], judged_controls)


def outcome_rows(label: str, draws: List[ShellDraw], steps: Sequence[int]) -> List[dict]:
    """The trajectories split by outcome (final sample a copy or not), first draw's states at the
    band's steps: how many copy, their mean r against the others', and the AUC with which their r
    is smaller."""
    rows = []
    for d in draws[:1]:
        aucs = trajectories.separation_auc(d.r["trajectory"], d.copies)
        for k in steps:
            c = d.copies
            rows.append({"run": label, "sigma_k": claims.sig3(float(d.sigmas[k])),
                         "copies": f"{int(c.sum())} of {len(c)}",
                         "r, copying": claims.sig3(float(d.r["trajectory"][k][c].mean())) if c.any() else "-",
                         "r, others": claims.sig3(float(d.r["trajectory"][k][~c].mean())) if (~c).any() else "-",
                         "r, noisy train / val": f"{claims.sig3(float(d.r['train'][k].mean()))} / "
                                                 f"{claims.sig3(float(d.r['val'][k].mean()))}",
                         "AUC copying < others": claims.sig3(float(aucs[k])) if np.isfinite(aucs[k]) else "-"})
    return rows


def separation_sigma(draw: ShellDraw, level: float = SEPARATION_AUC) -> Optional[float]:
    """The largest sigma_k from which on (to the end of sampling) the copying trajectories' r is
    smaller than the others' with AUC at least ``level``; None when they never separate."""
    aucs = trajectories.separation_auc(draw.r["trajectory"], draw.copies)
    ok = np.isfinite(aucs) & (aucs >= level)
    for k in range(len(ok)):
        if ok[k:].all():
            return float(draw.sigmas[k])
    return None
