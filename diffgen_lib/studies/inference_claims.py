"""The inference chapter's study: one scale's runs measured with the calibrated protocol, and
the claims C4a-C4e judged on them with their positive controls (:mod:`claims`).

A :class:`ScaleStudy` holds one scale's measurements: the main run with each training seed (its
last snapshot, every sample seed, partial inference), the training-set sizes (their last snapshot;
every snapshot with the first sample seed for the regime map), the memorizing control run (the
smallest training set, partial inference too), the optimal-denoiser sampler of every training set
and the decided shares. Each ``c4*`` function turns it into a :class:`~claims.ClaimRecord`.

Intervals: the main run's numbers resample training seeds first, then sample seeds and reference
draws (:func:`intervals.nested_bootstrap`); a control's cover its own sample seeds and draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import diffusion
from ..measure import evaluation, inference, intervals, metrics, summaries
from ..measure.calibrated_run import OptimalCalibration, RunCalibration, optimal_run_calibration, run_calibration
from ..measure.statistics import index_draws
from ..measure.evaluation import GapCurves
from ..runs import TrainedRun
from . import claims
from .claims import ClaimRecord, Criterion

HEADLINE = "pixels/nn_gap"  # the statistic of every C4 claim: the nearest-neighbour gap in pixels
QUALITY_SPACE = "classifier"
MIN_SEPARATION = 0.05  # a partial-inference index is drawn where copier and null differ by this much (NN gap)
DECIDED_LIMIT = 0.9  # at this decided share at the peak step or more, partial inference cannot differ from the samples


@dataclass
class ScaleStudy:
    """One scale's runs and measurements (see the module docstring)."""

    label: str                                 # "8x8 digits"
    main_n: int                                # the main run's training-set size
    seeds: Dict[int, TrainedRun]               # main run per training seed
    seed_curves: Dict[int, GapCurves]          # their gap curves
    seed_calibration: Dict[int, RunCalibration]  # last snapshot, every sample seed, partial inference
    sizes: Dict[int, TrainedRun]               # one run per training-set size (the first training seed)
    size_curves: Dict[int, GapCurves]
    size_calibration: Dict[int, RunCalibration]  # last snapshot, every sample seed (control: with partial)
    maps: Dict[int, RunCalibration]            # every snapshot, first sample seed
    optimal: Dict[int, OptimalCalibration]     # optimal-denoiser sampler per training-set size
    optimal_curves: Dict[int, GapCurves]       # optimal denoiser's errors per training-set size
    decided: Dict[int, np.ndarray]             # (S, K) decided share per training seed (main run)
    control_decided: Optional[np.ndarray] = None  # (S, K) of the memorizing control run
    sample_seeds: List[int] = field(default_factory=list)

    @property
    def control_n(self) -> int:
        """The memorizing control: the smallest training set (trained longest per image)."""
        return min(self.sizes)

    @property
    def covers(self) -> str:
        s = len(self.sample_seeds)
        r = self.seed_calibration[min(self.seeds)].final[HEADLINE]["null"].shape[-1]
        t = len(self.seeds)
        return (f"{t} training seed{'s' if t > 1 else ''} x {s} sample seeds x {r} reference draws"
                + ("" if t > 1 else "; one training seed: the interval does not cover it"))

    def peak(self, seed: int) -> dict:
        return self.seed_curves[seed].peak()

    def peak_step(self, seed: int, sigmas) -> int:
        """The sampler step nearest the training-gap peak of the main run with this training seed."""
        return summaries.nearest_index(sigmas, self.peak(seed)["peak_sigma"])

    def band(self, seed: int) -> tuple:
        """The noise levels where the training gap of the last snapshot exceeds half its peak."""
        c = self.seed_curves[seed]
        return summaries.half_peak_band(c.sigmas, c.gap[-1])


def judged_steps(curves: GapCurves, sigmas) -> List[int]:
    """The sampler steps partial-inference claims read: those in the band where the last snapshot's
    training gap exceeds half its peak, and the one nearest its peak."""
    band = summaries.steps_in(sigmas, *summaries.half_peak_band(curves.sigmas, curves.gap[-1]))
    return sorted(set(band) | {summaries.nearest_index(sigmas, curves.peak()["peak_sigma"])})


def measure_scale(label: str, main_n: int, seeds: Dict[int, TrainedRun], sizes: Dict[int, TrainedRun],
                  sample_seeds: Sequence[int], n_draws: int, n_gen: int, n_steps: int, n_ref: int, n_eval: int,
                  extra_features=None, progress: bool = False) -> ScaleStudy:
    """Measure one scale (every measurement is cached on disk, so chapters share them)."""
    sample_seeds = [int(s) for s in sample_seeds]
    kw = dict(n_draws=n_draws, n_gen=n_gen, n_steps=n_steps, n_ref=n_ref, extra_features=extra_features,
              progress=progress)
    control_n = min(sizes)
    first = min(seeds)
    seed_curves = {s: evaluation.gap_curves(r, n_eval=n_eval) for s, r in seeds.items()}
    size_curves = {n: evaluation.gap_curves(r, n_eval=n_eval) for n, r in sizes.items()}
    sigmas = diffusion.edm_sigmas(n_steps).numpy()
    # partial inference at every step for the first training seed (the figure), at the steps the
    # claims judge (the training gap's band and peak) for the others and for the memorizing run
    judged = {s: judged_steps(c, sigmas) for s, c in seed_curves.items()}
    seed_cal = {s: run_calibration(r, sample_seeds, steps=[max(r.snapshots)], partial_steps=[max(r.snapshots)],
                                               partial_k=True if s == first else judged[s], **kw)
                for s, r in seeds.items()}
    size_cal = {}
    for n, r in sizes.items():
        if n == main_n and r.key == seeds[first].key:
            size_cal[n] = seed_cal[first]
        else:
            control = sorted(set(judged[first]) | set(judged_steps(size_curves[n], sigmas)))
            size_cal[n] = run_calibration(r, sample_seeds, steps=[max(r.snapshots)],
                                                      partial_steps=[max(r.snapshots)] if n == control_n else [],
                                                      partial_k=control, **kw)
    maps = {n: run_calibration(r, sample_seeds[:1], **kw) for n, r in sizes.items()}
    kw_opt = dict(n_draws=n_draws, n_gen=n_gen, n_steps=n_steps, n_ref=n_ref, extra_features=extra_features)
    optimal = {n: optimal_run_calibration(r, sample_seeds, **kw_opt) for n, r in sizes.items()}

    def decided(run):
        return np.stack([inference.decided_share(inference.snapshot_sampler_record(run, max(run.snapshots), n_gen, n_steps, s),
                                                 run.splits.train.images) for s in sample_seeds])

    return ScaleStudy(
        label=label, main_n=main_n, seeds=seeds, seed_curves=seed_curves, seed_calibration=seed_cal, sizes=sizes,
        size_curves=size_curves,
        size_calibration=size_cal, maps=maps, optimal=optimal,
        optimal_curves={n: evaluation.optimal_curves(r, n_eval=n_eval) for n, r in sizes.items()},
        decided={s: decided(r) for s, r in seeds.items()}, control_decided=decided(sizes[control_n]),
        sample_seeds=sample_seeds)


# ----------------------------------------------------------------------------------------------
# Statistics shared by the claims


def optimal_index(study: ScaleStudy, n: int, stat: str = HEADLINE) -> np.ndarray:
    """The optimal-denoiser sampler's memorization index (S, R) against training set n's references."""
    f = study.size_calibration[n].final[stat]
    return index_draws(study.optimal[n].final[stat], f["null"][-1], f["copier"][-1])


def optimal_quality(study: ScaleStudy, n: int) -> np.ndarray:
    """The optimal-denoiser sampler's quality index (S, R) on training set n's scale."""
    rc = study.size_calibration[n]
    f = rc.final[f"{QUALITY_SPACE}/nn_val"]
    return index_draws(study.optimal[n].final[f"{QUALITY_SPACE}/nn_val"], f["null"][-1],
                                   f["gaussian"][-1].mean(0))


def mixture_threshold(study: ScaleStudy, p: float = 0.05) -> float:
    """The index of the copy mixture with a fraction p of exact copies (mean over the draws) of the
    main run's references: C4a's threshold."""
    mix = study.seed_calibration[min(study.seeds)].mixture_index(HEADLINE)
    if p not in mix:
        raise ValueError(f"no copy mixture with p = {p}; measured: {sorted(mix)}")
    return float(mix[p].mean())


def seeds_estimate(per_seed: Dict[int, np.ndarray], covers: str) -> intervals.Estimate:
    """The mean over training seeds of the mean draw, with the nested interval."""
    return intervals.nested_bootstrap([np.asarray(v).ravel() for _, v in sorted(per_seed.items())], covers=covers)


def draws_estimate(draws, covers: str = "") -> intervals.Estimate:
    return intervals.bootstrap(np.asarray(draws).ravel(), covers=covers)


def _control_covers(study: ScaleStudy) -> str:
    return f"{len(study.sample_seeds)} sample seeds x draws"


# ----------------------------------------------------------------------------------------------
# The claims


def c4a(study: ScaleStudy, copy_fraction: float = 0.05, quality_criterion: float = 0.5) -> ClaimRecord:
    """C4a: the samples are about as far from the training set as fresh data (index below the
    copy mixture with ``copy_fraction`` exact copies) and look like data (quality index below
    ``quality_criterion``). Controls: the optimal-denoiser sampler, the memorizing run, the Gaussian
    fitted to the training pixels (it copies nothing: it must fail the quality part)."""
    threshold = mixture_threshold(study, copy_fraction)
    crit_index = Criterion("<", threshold, f"the {copy_fraction:.0%} copy mixture")
    crit_quality = Criterion("<", quality_criterion)
    index = seeds_estimate({s: rc.index(HEADLINE) for s, rc in study.seed_calibration.items()}, study.covers)
    quality = seeds_estimate({s: rc.quality_index() for s, rc in study.seed_calibration.items()}, study.covers)
    main0 = study.seed_calibration[min(study.seeds)]
    n0 = study.control_n
    ctrl = study.size_calibration[n0]
    controls = {
        "optimal-denoiser sampler": [draws_estimate(optimal_index(study, study.main_n)),
                                     draws_estimate(optimal_quality(study, study.main_n))],
        f"memorizing run N={n0}": [draws_estimate(ctrl.index(HEADLINE)), draws_estimate(ctrl.quality_index())],
        "fitted Gaussian": [draws_estimate(main0.index(HEADLINE, which="gaussian")),
                            draws_estimate(main0.quality_index(which="gaussian"))],
    }
    note = f"copy-equivalent fraction {main0.copy_equivalent(index.value):.3g}"
    return claims.claim("C4a", [(f"memorization index (NN gap, pixels) of the final samples, main run N={study.main_n}",
                                 index, crit_index),
                                (f"quality index (distance to val, {QUALITY_SPACE} features)", quality, crit_quality)],
                        controls, note=note)


def resolved_steps(rc: RunCalibration, stat: str = HEADLINE, min_separation: float = MIN_SEPARATION) -> np.ndarray:
    """Per sampler step (K,): whether the copier's and the null's reconstructions are told apart
    (their mean statistics differ by at least ``min_separation``). Elsewhere (high noise, where
    every reconstruction is near the data mean) the partial-inference index divides by about 0
    and says nothing."""
    p = rc.partial[stat]
    return (np.asarray(p["copier"]) - np.asarray(p["null"])).mean(0) >= min_separation


def _partial_at(rc: RunCalibration, k: int, model=None) -> np.ndarray:
    return rc.partial_index(HEADLINE, model)[..., k]


def peak_decided(study: ScaleStudy) -> float:
    """The decided share at the sampler step nearest the training-gap peak (mean over training and
    sample seeds)."""
    sig = study.seed_calibration[min(study.seeds)].sigmas
    return float(np.mean([study.decided[s][:, study.peak_step(s, sig)].mean() for s in study.seeds]))


def _precondition(study: ScaleStudy) -> str:
    share = peak_decided(study)
    if share >= DECIDED_LIMIT:
        return (f"{share:.0%} of the samples are decided at the step nearest the training-gap peak "
                f"(at least {DECIDED_LIMIT:.0%}): the band comes after the samples are decided")
    return ""


def c4b(study: ScaleStudy, criterion: float = 0.25) -> ClaimRecord:
    """C4b: the partial-inference index at the sampler step nearest the training-gap peak is low.
    Controls: the optimal-denoiser sampler's early-stopped outputs on the same scale, the
    memorizing run's partial index at its own peak step."""
    sig = study.seed_calibration[min(study.seeds)].sigmas
    per_seed = {s: _partial_at(rc, study.peak_step(s, sig)) for s, rc in study.seed_calibration.items()}
    main0 = study.seed_calibration[min(study.seeds)]
    k0 = study.peak_step(min(study.seeds), sig)
    n0 = study.control_n
    ctrl = study.size_calibration[n0]
    k_ctrl = summaries.nearest_index(sig, study.size_curves[n0].peak()["peak_sigma"])
    controls = {
        "optimal-denoiser sampler": draws_estimate(
            _partial_at(main0, k0, study.optimal[study.main_n].partial[HEADLINE])),
        f"memorizing run N={n0}": draws_estimate(_partial_at(ctrl, k_ctrl)),
    }
    ks = sorted({study.peak_step(s, sig) for s in study.seeds})
    where = ", ".join(f"{sig[k]:.3g}" for k in ks)
    return claims.claim("C4b", [(f"partial-inference index (NN gap, pixels) at sigma_k = {where}, the step nearest "
                                 f"the training-gap peak, main run", seeds_estimate(per_seed, study.covers),
                                 Criterion("<", criterion))],
                        controls, precondition=_precondition(study),
                        note=f"decided share there {peak_decided(study):.2f}")


def band_steps(study: ScaleStudy, seed: int) -> List[int]:
    sig = study.seed_calibration[seed].sigmas
    lo, hi = study.band(seed)
    return summaries.steps_in(sig, lo, hi)


def _band_change(index: np.ndarray, steps: Sequence[int]) -> np.ndarray:
    """Largest minus smallest index over the band's steps, per draw."""
    band = index[..., list(steps)]
    return band.max(-1) - band.min(-1)


def c4d(study: ScaleStudy, criterion: float = 0.1) -> ClaimRecord:
    """C4d: across the band where the training gap exceeds half its peak, the partial-inference
    index stays flat (changes by less than ``criterion``). Fewer than two steps in the band: not
    judged (INCONCLUSIVE). Controls as for C4b."""
    first = min(study.seeds)
    steps = {s: band_steps(study, s) for s in study.seeds}
    sig = study.seed_calibration[first].sigmas
    lo, hi = study.band(first)
    what = (f"change of the partial-inference index across sigma_k in [{lo:.3g}, {hi:.3g}] "
            f"({len(steps[first])} sampler steps), main run")
    if min(len(v) for v in steps.values()) < 2:
        return claims.not_judged("C4d", what, Criterion("<", criterion), "fewer than 2 sampler steps in the band")
    per_seed = {s: _band_change(rc.partial_index(HEADLINE), steps[s]) for s, rc in study.seed_calibration.items()}
    main0 = study.seed_calibration[first]
    n0 = study.control_n
    ctrl = study.size_calibration[n0]
    c = study.size_curves[n0]
    ctrl_steps = summaries.steps_in(sig, *summaries.half_peak_band(c.sigmas, c.gap[-1]))
    controls = {"optimal-denoiser sampler": draws_estimate(_band_change(
        main0.partial_index(HEADLINE, study.optimal[study.main_n].partial[HEADLINE]), steps[first]))}
    if len(ctrl_steps) >= 2:
        controls[f"memorizing run N={n0}"] = draws_estimate(_band_change(ctrl.partial_index(HEADLINE), ctrl_steps))
    return claims.claim("C4d", [(what, seeds_estimate(per_seed, study.covers), Criterion("<", criterion))],
                        controls, precondition=_precondition(study))


def constant_rank(ns: Sequence[int], values: Sequence[float]) -> float:
    """Spearman rank correlation, 0 for a constant sequence (no trend)."""
    values = np.asarray(values, dtype=np.float64)
    return 0.0 if np.ptp(values) == 0 else metrics.rank_correlation(ns, values)


def c4c(study: ScaleStudy, criterion: float = -0.8) -> ClaimRecord:
    """C4c: the final index falls with the training-set size (rank correlation with N, per draw).
    One size: not judged. Control: the optimal-denoiser sampler of every training set (it copies
    at every N: its index does not fall)."""
    ns = sorted(study.sizes)
    what = f"rank correlation of the final index with N = {', '.join(map(str, ns))}"
    if len(ns) < 2:
        return claims.not_judged("C4c", what, Criterion("<=", criterion), "one training-set size, not judged")

    def ranks(index_of):
        idx = {n: index_of(n) for n in ns}
        s, r = idx[ns[0]].shape
        return np.array([[round(constant_rank(ns, [idx[n][i, j] for n in ns]), 9) for j in range(r)] for i in range(s)])

    model = ranks(lambda n: study.size_calibration[n].index(HEADLINE))
    control = ranks(lambda n: optimal_index(study, n))
    return claims.claim("C4c", [(what, draws_estimate(model, f"{len(study.sample_seeds)} sample seeds x draws"),
                                 Criterion("<=", criterion))],
                        {"optimal-denoiser sampler at every N": draws_estimate(control)})


def transfer_draws(study: ScaleStudy, seed: int) -> tuple:
    """(m_train of the main run with this training seed at its training-gap peak, its m_inf draws)."""
    m_train = evaluation.training_index(study.seed_curves[seed], study.optimal_curves[study.main_n])
    return m_train, study.seed_calibration[seed].index(HEADLINE)


def c4e(study: ScaleStudy, criterion: float = 0.5) -> ClaimRecord:
    """C4e: the transfer ratio m_inf / m_train of the main run is low: little of what the objective
    memorized (at the training gap's peak) reaches the samples. Control: the optimal denoiser,
    whose training index is 1 by construction and whose samples are copies (ratio about 1)."""
    per_seed, m_trains = {}, {}
    for s in study.seeds:
        m_train, m_inf = transfer_draws(study, s)
        m_trains[s] = m_train
        per_seed[s] = m_inf / m_train.value
    ratio = seeds_estimate(per_seed, study.covers + "; m_train at its value on the evaluation images")
    control = draws_estimate(optimal_index(study, study.main_n) / 1.0)
    m_train_text = ", ".join(m.text() for _, m in sorted(m_trains.items()))
    return claims.claim("C4e", [(f"transfer ratio m_inf / m_train of the main run N={study.main_n}", ratio,
                                 Criterion("<", criterion))],
                        {"optimal denoiser (m_train = 1)": control}, note=f"m_train {m_train_text}")


def transfer_points(study: ScaleStudy) -> List[dict]:
    """Every snapshot of every training-set size: (m_train with its interval, m_inf with its
    interval over reference draws, first sample seed), for the transfer figure."""
    rows = []
    for n, run in sorted(study.sizes.items()):
        curves, rc = study.size_curves[n], study.maps[n]
        for t, step in enumerate(rc.steps):
            ti = list(curves.steps).index(step)
            m_train = evaluation.training_index(curves, study.optimal_curves[n], snapshot=ti)
            m_inf = draws_estimate(rc.index(HEADLINE, t))
            rows.append(dict(scale=study.label, n=n, step=int(step), m_train=m_train, m_inf=m_inf,
                             fraction=float(step) / max(rc.steps)))
    return rows


# ----------------------------------------------------------------------------------------------
# Table rows the chapter shows

STATISTIC_NAMES = {"nn_gap": "nearest-neighbour gap", "fd_gap": "FD gap (relative)", "fd_diff": "FD_val - FD_train",
                   "nn_cos": "1-NN cosine probe"}


def _fmt(x: float) -> str:
    return claims.sig3(x)


def calibration_rows(rc: RunCalibration, spaces: Sequence[str]) -> List[dict]:
    """One row per statistic of the last snapshot: model, null, copier and Gaussian (mean [90%
    interval]), the model's and the Gaussian's index, and the exchanged null."""
    rows = []
    for space in spaces:
        for stat, name in STATISTIC_NAMES.items():
            key = f"{space}/{stat}"
            f = rc.final[key]
            ex = rc.exchange.get(key)
            rows.append({"statistic": f"{name}, {space}",
                         "model": draws_estimate(f["model"][-1]).text(_fmt),
                         "null": draws_estimate(f["null"][-1]).text(_fmt),
                         "copier": _fmt(float(np.mean(f["copier"][-1]))),
                         "Gaussian": _fmt(float(np.mean(f["gaussian"][-1]))),
                         "index": draws_estimate(rc.index(key)).text(_fmt),
                         "Gaussian's index": _fmt(float(np.mean(rc.index(key, which="gaussian")))),
                         "exchanged null": draws_estimate(ex).text(_fmt) if ex is not None else "-"})
    f = rc.final["copy_fraction"]
    rows.append({"statistic": "copy fraction (d1/d2 < 1/3)", "model": _fmt(float(np.mean(f["model"][-1]))),
                 "null": _fmt(float(np.mean(f["null"][-1]))), "copier": _fmt(float(np.mean(f["copier"][-1]))),
                 "Gaussian": _fmt(float(np.mean(f["gaussian"][-1]))), "index": "-", "Gaussian's index": "-",
                 "exchanged null": "-"})
    return rows


def mixture_rows(studies: Sequence[ScaleStudy]) -> List[dict]:
    """The copy mixtures' index (mean [interval over reference draws]) at every scale."""
    mixes = {s.label: s.seed_calibration[min(s.seeds)].mixture_index(HEADLINE) for s in studies}
    fractions = sorted(next(iter(mixes.values())))
    return [{"copies in the set": f"{p:.0%}", **{label: draws_estimate(m[p]).text(_fmt) for label, m in mixes.items()}}
            for p in fractions]


def run_rows(study: ScaleStudy) -> List[dict]:
    """Every run of a scale at its last snapshot: the index with its interval, the copy-equivalent
    fraction, the copy fraction and the quality index; the main run per training seed, the
    training-set sizes, the optimal-denoiser sampler and the fitted Gaussian."""
    main0 = study.seed_calibration[min(study.seeds)]
    rows = []

    def row(what, index, copies, quality):
        e = draws_estimate(index)
        rows.append({"samples": what, "index (NN gap, pixels)": e.text(_fmt),
                     "copy-equivalent": f"{main0.copy_equivalent(e.value):.1%}",
                     "copy fraction": f"{float(np.mean(copies)):.1%}",
                     "quality index": draws_estimate(quality).text(_fmt)})

    for s, rc in sorted(study.seed_calibration.items()):
        row(f"main run N={study.main_n}, training seed {s}", rc.index(HEADLINE), rc.final["copy_fraction"]["model"][-1],
            rc.quality_index())
    for n, rc in sorted(study.size_calibration.items()):
        if n != study.main_n:
            row(f"N={n}", rc.index(HEADLINE), rc.final["copy_fraction"]["model"][-1], rc.quality_index())
    ratios = study.optimal[study.main_n].ratios
    row(f"optimal-denoiser sampler, N={study.main_n}", optimal_index(study, study.main_n),
        ratios < metrics.COPY_THRESHOLD, optimal_quality(study, study.main_n))
    row("Gaussian fitted to the training pixels", main0.index(HEADLINE, which="gaussian"),
        main0.final["copy_fraction"]["gaussian"][-1], main0.quality_index(which="gaussian"))
    return rows


def partial_rows(study: ScaleStudy) -> List[dict]:
    """The sampler steps that decide C4b and C4d (the band of the training gap and the step
    nearest its peak), first training seed: sigma_k, the training gap there, the decided share and
    the partial-inference index of the model, the memorizing run and the optimal-denoiser sampler."""
    s0 = min(study.seeds)
    rc = study.seed_calibration[s0]
    sig = rc.sigmas
    k_peak = study.peak_step(s0, sig)
    steps = sorted(set(band_steps(study, s0)) | {k_peak})
    curves = study.seed_curves[s0]
    ctrl = study.size_calibration[study.control_n]
    opt = rc.partial_index(HEADLINE, study.optimal[study.main_n].partial[HEADLINE])
    rows = []
    for k in steps:
        rows.append({"step k (sigma_k)": f"{k} ({_fmt(float(sig[k]))}{', peak' if k == k_peak else ''})",
                     "training gap": _fmt(summaries.value_at_sigma(curves.sigmas, curves.gap[-1], float(sig[k]))),
                     "decided share": f"{study.decided[s0][:, k].mean():.0%}",
                     "index: model": draws_estimate(rc.partial_index(HEADLINE)[..., k]).text(_fmt),
                     "memorizing run": draws_estimate(ctrl.partial_index(HEADLINE)[..., k]).text(_fmt),
                     "optimal denoiser (decided share)": draws_estimate(opt[..., k]).text(_fmt)
                     + f" ({study.optimal[study.main_n].decided[:, k].mean():.0%})"})
    return rows
