"""The memorization check for anyone's samples: the book's calibrated memorization index
(:mod:`~diffgen_lib.measure.calibrated_run`) of a set of generated images against their training set and held-out images.

    python -m diffgen_lib.book memorization SAMPLES --train TRAIN --heldout HELDOUT
        [--features pixels|FILE.pt] [--out DIR] [--draws N] [--seed S] [--n-ref N]

SAMPLES, TRAIN and HELDOUT are ``.npy`` or ``.npz`` files or folders of ``.png`` images
(:func:`~diffgen_lib.measure.sample_files.load_images`), one image shape for all three. Values
are read as floats in [0, 1], as uint8 0..255 or as floats in [-1, 1] (an array with a negative
value); all are mapped to [-1, 1]. An ``.npz`` of the training or held-out images may carry an
integer array "labels" (one per image): with labels on both, each val reference has the train
reference's class counts, as in the book.

What is measured (:func:`check_memorization`), by the code of the book
(:class:`~diffgen_lib.measure.calibration.Calibration`, with ``n_gen`` = the number of samples,
so the same inputs give the book's numbers):

- the **memorization index** of the nearest-neighbour gap in pixels, per reference draw:
  (g_samples - g_fresh) / (g_copies - g_fresh), where g is the nearest-neighbour gap
  (d_val - d_train) / d_val against a train and a val reference of equal size, "fresh" are
  held-out images outside the val reference (the null) and "copies" training images (the
  copier): 0 is as far from the training set as fresh images, 1 as close as copies;
- the **copy-equivalent fraction**: the fraction p of exact training copies (the rest fresh
  held-out images) whose set has the samples' index (the copy mixtures, interpolated);
- the **copy fraction**: the share of samples whose distance to their nearest training image is
  below 1/3 of that to the second nearest (Gu et al. 2023, Yoon et al. 2023), and the same for
  fresh images;
- the **quality index**: the samples' mean distance to their nearest image of the val reference
  (in the chosen feature space) on a scale where fresh images are 0 and a Gaussian fitted to the
  training images is 1 (copies of training images are as far from it as fresh images: about 0).
  When the fitted Gaussian is not clearly further from the data than fresh images, the scale has
  no 1 and the quality index is not reported;
- **C_T**, the data-copying statistic of Meehan, Chaudhuri & Dasgupta (2020) in the chosen
  feature space: about N(0, 1) for fresh data, much below 0 for copying.

The command and its report (``report.json``, ``gallery.png``, ``report.html``) are
:mod:`diffgen_lib.book.memorization`.

Cost: the nearest-neighbour values of the samples, of the training images the copiers draw and of
the held-out images the nulls draw are found once each, on the matrix-product path
(:func:`~diffgen_lib.measure.metrics.subset_nearest`); no covariance is fitted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Union

import numpy as np

from ..seeds import CHECK_BOOTSTRAP
from .intervals import Estimate

HEADLINE = "pixels/nn_gap"        # the index of the check: the nearest-neighbour gap in pixels
GALLERY_SIZE = 16                 # samples in the gallery
CT_MAX_CELLS = 10                 # k-means cells of C_T, fewer when the samples are few
THRESHOLD_MIXTURE = 0.05          # the copy mixture the verdict compares the index with
QUALITY_SCALE_MIN = 1.1           # the fitted Gaussian's distance to held-out images must be this many times fresh images'


# ----------------------------------------------------------------------------------------------
# The report


@dataclass
class MemorizationReport:
    """Everything :func:`check_memorization` measured (see the module docstring).

    ``index``: the headline memorization index (nearest-neighbour gap in pixels): the mean of the
    per-draw indices ``index_draws`` and a 90% bootstrap interval over the reference draws and the
    samples (:func:`index_estimate`); ``nn_gap``: the gap itself of the samples ("model"), of
    fresh images ("null") and of training copies ("copier"), over the reference draws;
    ``mixture``: copy fraction p -> mean index of the copy mixture; ``quality``: None when the
    scale has no 1 in this feature space (``quality_scale`` says why), else its mean and interval
    over the reference draws (``quality_draws``); ``c_t``: C_T with the
    cells it used; ``closest``: the samples nearest the training set (indices into the samples,
    their nearest training images' indices, the pixel distances and the ratios d1/d2)."""

    n_samples: int
    n_train: int
    n_heldout: int
    image_shape: tuple
    dims: int
    source_ranges: Dict[str, str]
    features: str
    n_draws: int
    n_ref: int
    dilution: float
    seed: int
    class_matched: bool
    index: Estimate
    index_draws: np.ndarray
    nn_gap: Dict[str, Estimate]
    copy_equivalent: float
    mixture: Dict[float, float]
    copy_fraction: float
    null_copy_fraction: float
    quality: Optional[Estimate]
    quality_draws: np.ndarray
    quality_scale: Dict[str, Any]
    c_t: Dict[str, Any]
    closest: Dict[str, list]
    verdict_text: str = ""
    notes: list = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The report as plain numbers, strings and lists (non-finite numbers as None)."""
        out = {}
        for name in self.__dataclass_fields__:
            out[name] = _plain(getattr(self, name))
        out["mixture"] = {f"{p:g}": _plain(v) for p, v in self.mixture.items()}
        return out

    def summary_lines(self) -> list:
        """A short plain-text summary (6 lines, and a line per note)."""
        thr = self.mixture.get(THRESHOLD_MIXTURE, float("nan"))
        q = (self.quality.text(_fmt) + "   (0 fresh images, 1 a Gaussian fitted to the training images)"
             if self.quality is not None else "not measured: the scale has no 1 here (see the verdict)")
        ct = self.c_t
        ct_text = (f"{ct['value']:.3g} ({ct['cells_used']} of {ct['cells']} cells, {ct['space']})"
                   if ct.get("value") is not None else f"not computed ({ct.get('reason', '')})")
        return [
            f"memorization check: {self.n_samples} samples, {self.n_train} training and {self.n_heldout} held-out "
            f"images of shape {tuple(self.image_shape)}; {self.n_draws} reference draws of {self.n_ref} images",
            f"memorization index (NN gap, pixels): {self.index.text(_fmt)}   "
            f"(0 fresh images, 1 copies; {THRESHOLD_MIXTURE:.0%} copy mixture: {_fmt(thr)})",
            f"copy-equivalent fraction: {self.copy_equivalent:.1%}   copy fraction (d1/d2 < 1/3): "
            f"{self.copy_fraction:.1%} (fresh images: {self.null_copy_fraction:.1%})",
            f"quality index (distance to held-out images, {self.features}): {q}",
            f"data-copying statistic C_T: {ct_text}",
            f"verdict: {self.verdict_text}",
        ] + [f"note: {n}" for n in self.notes]


def _fmt(v: float) -> str:
    return "nan" if v is None or not np.isfinite(v) else f"{v:.2g}" if abs(v) < 0.01 else f"{v:.2f}"


def _plain(v):
    """JSON-ready: floats (non-finite -> None), ints, strings, lists and dicts."""
    if isinstance(v, Estimate):
        return {"value": _plain(v.value), "lo": _plain(v.lo), "hi": _plain(v.hi), "n": int(v.n), "covers": v.covers}
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if v is None or isinstance(v, str):
        return v
    return str(v)


# ----------------------------------------------------------------------------------------------
# Inputs


def heldout_needed(n_train: int, n_ref: int) -> int:
    """Held-out images the check needs: a val reference as large as the train reference (at most
    ``n_ref`` images, at most the training set) plus :data:`~diffgen_lib.measure.references.MIN_NULL_POOL`
    left over for the null (fresh images)."""
    from .references import MIN_NULL_POOL

    return min(int(n_ref), int(n_train)) + MIN_NULL_POOL


def _as_images(x, name: str):
    """(float32 tensor, source range, labels or None) of an ImageSet, tensor or array."""
    import torch

    from .sample_files import ImageSet

    if isinstance(x, ImageSet):
        return x.images.float(), x.source_range, x.labels
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float(), "as given", None
    try:
        a = np.asarray(x)
    except Exception:  # noqa: BLE001 - anything that is not an array
        a = None
    if a is None or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        from .sample_files import BadInput

        raise BadInput(f"{name}: expected images (an ImageSet, a tensor or an array), got {type(x).__name__}")
    return torch.from_numpy(a.astype(np.float32)), "as given", None


def _feature_spaces(features) -> tuple:
    """(spaces for :class:`Calibration`, name of the space of quality and C_T, its description)."""
    from .. import features as feats
    from .sample_files import BadInput

    if isinstance(features, str):
        if features != "pixels":
            raise BadInput(f"unknown features {features!r}: use \"pixels\" or a feature extractor "
                           "(on the command line: --features pixels or a TorchScript file)")
        return {"pixels": feats.PixelFeatures()}, "pixels", "pixels"
    if not callable(features):
        raise BadInput(f"features must be \"pixels\" or a callable feature extractor, got {type(features).__name__}")
    if isinstance(features, feats.PixelFeatures):
        return {"pixels": features}, "pixels", "pixels"
    name = str(getattr(features, "short_name", None) or getattr(features, "name", None) or "features")
    name = "features" if name == "pixels" or "/" in name else name
    return {"pixels": feats.PixelFeatures(), name: features}, name, str(getattr(features, "name", name))


def _labels(labels, n: int, name: str) -> np.ndarray:
    from .sample_files import BadInput

    a = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
    if a.ndim != 1 or len(a) != n:
        raise BadInput(f"{name}: expected one label per image, shape ({n},), got {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise BadInput(f"{name}: labels must be integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def validate(samples, train, heldout, features="pixels", n_draws: int = 5, n_ref: int = 1000,
             train_labels=None, heldout_labels=None) -> dict:
    """Check the inputs before any computation; raise :class:`~diffgen_lib.measure.sample_files.BadInput`
    (one line) for images that cannot be compared (:func:`~diffgen_lib.measure.sample_files.check_inputs`),
    too few held-out images (:func:`heldout_needed`), labels on one side only or of the wrong
    length, an unknown feature space or an extractor that does not map the images to (N, d)
    features. Returns the prepared inputs (tensors, source ranges, labels, feature spaces)."""
    from .. import features as feats
    from .sample_files import BadInput, check_inputs

    if int(n_draws) < 1:
        raise BadInput(f"the number of reference draws must be at least 1, got {n_draws}")
    if int(n_ref) < 2:
        raise BadInput(f"the reference size must be at least 2, got {n_ref}")
    x_s, r_s, _ = _as_images(samples, "samples")
    x_t, r_t, l_t = _as_images(train, "train")
    x_h, r_h, l_h = _as_images(heldout, "heldout")
    check_inputs(x_s, x_t, x_h, n_heldout_needed=2)
    need = heldout_needed(len(x_t), n_ref)
    if len(x_h) < need:
        from .references import MIN_NULL_POOL

        raise BadInput(f"{need} held-out images are needed, {len(x_h)} were given (a val reference as large as "
                       f"the train reference, min(n_ref {n_ref}, {len(x_t)} training images) = {need - MIN_NULL_POOL}, "
                       f"plus {MIN_NULL_POOL} for the null); give more held-out images or a smaller --n-ref")
    train_labels = l_t if train_labels is None else train_labels
    heldout_labels = l_h if heldout_labels is None else heldout_labels
    if (train_labels is None) != (heldout_labels is None):
        which = "train" if train_labels is not None else "heldout"
        raise BadInput(f"labels were given for the {which} images only; give them for both or for neither")
    matched = train_labels is not None
    if matched:
        train_labels = _labels(train_labels, len(x_t), "train labels")
        heldout_labels = _labels(heldout_labels, len(x_h), "heldout labels")
    else:
        train_labels, heldout_labels = np.zeros(len(x_t), np.int64), np.zeros(len(x_h), np.int64)
    spaces, space, description = _feature_spaces(features)
    if space != "pixels":
        try:
            probe = feats.as_numpy_features(spaces[space], x_s[:2])
        except Exception as exc:  # noqa: BLE001 - whatever the network raises, as one line
            lines = str(exc).strip().splitlines()
            raise BadInput(f"the feature extractor {description!r} fails on the samples: "
                           f"{lines[0] if lines else type(exc).__name__}") from None
        if not np.isfinite(probe).all():
            raise BadInput(f"the feature extractor {description!r} returns NaN or infinite features")
    return {"samples": x_s, "train": x_t, "heldout": x_h, "ranges": {"samples": r_s, "train": r_t, "heldout": r_h},
            "train_labels": train_labels, "heldout_labels": heldout_labels, "class_matched": matched,
            "spaces": spaces, "space": space, "description": description}


# ----------------------------------------------------------------------------------------------
# The check


def _statistics(inputs: dict, n_draws: int, n_ref: int, seed: int, progress: bool) -> tuple:
    """The stages of :func:`check_memorization` on validated inputs, timed: (the Calibration, the
    samples', the null's and copier's, the mixtures' and the Gaussian's statistics, the samples'
    nearest-neighbour values, C_T, the samples' two nearest training distances and indices and their
    ratios d1/d2, timings)."""
    from ..progress import progress_bar
    from . import calibration, metrics
    from .references import GaussianFit

    x_s, x_t, x_h = inputs["samples"], inputs["train"], inputs["heldout"]
    space, n_gen = inputs["space"], len(x_s)
    stages = ["references", "samples", "fresh and copies", "copy mixtures", "fitted Gaussian", "C_T"]
    timings: Dict[str, float] = {}
    bar = progress_bar(total=len(stages), desc="memorization check", disable=not progress)
    clock = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = now - clock[0]
        clock[0] = now
        bar.update(1)
        i = stages.index(stage) + 1
        if i < len(stages):
            bar.set_postfix_str(stages[i])

    bar.set_postfix_str(stages[0])
    try:
        cal = calibration.Calibration(x_t, inputs["train_labels"], x_h, inputs["heldout_labels"], inputs["spaces"],
                                      n_gen, n_ref, n_draws, seed, fd_spaces=())
        done("references")
        # the memorization ratios of Calibration.model_statistics (metrics.memorization_ratio), with
        # the nearest training images kept for the gallery
        d12, nn_idx = metrics.nearest_neighbors(x_s, x_t, k=2)
        ratios = d12[:, 0] / np.maximum(d12[:, 1], 1e-12)
        sample_feats = cal.features(x_s)
        near = {s_: cal.nearest(f, s_) for s_, f in sample_feats.items()}
        model = cal.statistics(sample_feats, ratios, near=near)
        done("samples")
        calib = cal.calibration_statistics()
        done("fresh and copies")
        mixtures = cal.mixture_statistics(calibration.MIXTURE_FRACTIONS)
        done("copy mixtures")
        gauss = cal.statistics(cal.features(GaussianFit(x_t).sample(n_gen, seed)))
        done("fitted Gaussian")
        c_t = _copying(cal, sample_feats, space, seed, d12[:, 0] if space == "pixels" else None)
        done("C_T")
    finally:
        bar.close()

    return cal, model, calib, mixtures, gauss, near, c_t, d12, nn_idx, ratios, timings


def check_memorization(samples, train, heldout, features: Union[str, Callable] = "pixels", n_draws: int = 5,
                       seed: int = 0, train_labels=None, heldout_labels=None, n_ref: int = 1000,
                       progress: bool = False) -> MemorizationReport:
    """The calibrated memorization index of ``samples`` against their ``train``ing set, with
    ``heldout`` images from the same distribution as fresh data (see the module docstring).

    Images: :class:`~diffgen_lib.measure.sample_files.ImageSet` (as :func:`load_images` reads
    them; an .npz's labels are used), tensors or arrays (taken as they are: the book's
    convention is [-1, 1]), (N, C, H, W) or (N, D), one shape for all three. ``features``:
    "pixels" or a feature extractor (images -> (N, d), e.g.
    :class:`~diffgen_lib.features.PretrainedFeatures`) for the quality index and C_T (the index
    is always in pixels). ``n_draws`` reference draws of ``n_ref`` images (at most the training
    set), drawn with ``seed``, which also seeds the Gaussian's samples and C_T's k-means.
    ``train_labels``/``heldout_labels``: class labels of both, or neither (then plain random val
    references). Bad inputs raise :class:`~diffgen_lib.measure.sample_files.BadInput` before any
    computation. Deterministic for given inputs; ``progress`` shows a tqdm bar of the stages.
    """
    from . import intervals

    inputs = validate(samples, train, heldout, features, n_draws, n_ref, train_labels, heldout_labels)
    x_s, x_t, x_h = inputs["samples"], inputs["train"], inputs["heldout"]
    space = inputs["space"]
    n_gen, n_draws, seed = len(x_s), int(n_draws), int(seed)
    cal, model, calib, mixtures, gauss, near, c_t, d12, nn_idx, ratios, timings = _statistics(
        inputs, n_draws, n_ref, seed, progress)
    rc = _run_calibration(cal, model, calib, mixtures, gauss, ratios, len(x_h))
    covers = f"{n_draws} reference draw{'s' if n_draws > 1 else ''}"
    index_draws = rc.index(HEADLINE).ravel()
    index = index_estimate(cal, near[HEADLINE.split("/")[0]], rc, seed)
    nn_gap = {name: intervals.bootstrap(rc.final[HEADLINE][name][0], covers=covers)
              for name in ("model", "null", "copier")}
    mixture = {float(p): float(v.mean()) for p, v in rc.mixture_index(HEADLINE).items()}
    copy_equivalent = rc.copy_equivalent(index.value, HEADLINE)
    quality_draws = rc.quality_index(space=space).ravel()
    scale = _quality_scale(rc, space)
    quality = intervals.bootstrap(quality_draws, covers=covers) if scale["ok"] else None
    order = np.argsort(d12[:, 0], kind="stable")[:GALLERY_SIZE]
    closest = {"samples": order.tolist(), "train": nn_idx[order, 0].tolist(),
               "distance": d12[order, 0].tolist(), "ratio": ratios[order].tolist()}
    report = MemorizationReport(
        n_samples=n_gen, n_train=len(x_t), n_heldout=len(x_h), image_shape=tuple(x_s.shape[1:]),
        dims=int(np.prod(x_s.shape[1:])), source_ranges=inputs["ranges"], features=inputs["description"],
        n_draws=n_draws, n_ref=cal.n_ref, dilution=float(cal.dilution), seed=seed,
        class_matched=inputs["class_matched"], index=index, index_draws=index_draws, nn_gap=nn_gap,
        copy_equivalent=copy_equivalent, mixture=mixture, copy_fraction=float(model["copy_fraction"][0]),
        null_copy_fraction=float(np.mean(calib["null"]["copy_fraction"])), quality=quality,
        quality_draws=quality_draws, quality_scale=scale, c_t=c_t, closest=closest, timings=timings)
    pool = len(x_h) - cal.n_ref
    if pool < n_gen:
        report.notes.append(
            f"the fresh images (the null) are {n_gen} draws with replacement from {pool} held-out images outside the "
            f"val reference; their repeats raise the null's FD, so fresh samples get a quality index below 0: "
            f"give at least {cal.n_ref + n_gen} held-out images for an unbiased quality scale")
    if cal.dilution < 1:
        report.notes.append(
            f"the train reference is {cal.n_ref} of the {len(x_t)} training images (share {cal.dilution:.3g}): a copy "
            "counts only when its original is in the reference, so the index is noisier than with the whole "
            "training set (a larger --n-ref and more held-out images narrow it)")
    report.verdict_text = verdict(report)
    return report


def index_estimate(cal, near, rc, seed: int) -> Estimate:
    """The headline index: the mean over reference draws of the per-draw index (the book's
    number), with a 90% percentile-bootstrap interval that covers the reference draws *and* the
    samples. The book's interval covers sample seeds x reference draws; a single sample set has no
    seeds, and the draws alone miss the noise of the set itself (fresh images would be called
    nearer or further than fresh images). Each replicate resamples the draws and the samples (the
    same resample in every draw) and recomputes the samples' nearest-neighbour gap from their
    nearest-neighbour distances to each draw's references, relative to the gap of all samples
    (so the replicates centre on :class:`Calibration`'s own per-draw numbers)."""
    from . import intervals

    f = rc.final[HEADLINE]
    g_model, null, copier = f["model"][0, 0], f["null"][0], f["copier"][0]
    d_tr, d_va = near.d_train.astype(np.float64), near.d_val.astype(np.float64)  # (R, n): the samples' nearest distances
    R, n = d_tr.shape
    g_all = (d_va.mean(1) - d_tr.mean(1)) / d_va.mean(1)
    rng = CHECK_BOOTSTRAP.generator(seed)
    reps = []
    for start in range(0, intervals.N_BOOT, 250):
        b = min(250, intervals.N_BOOT - start)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64) / n  # (b, n) sample weights
        m_tr, m_va = w @ d_tr.T, w @ d_va.T                                        # (b, R)
        g = g_model[None] + (m_va - m_tr) / m_va - g_all[None]
        j = rng.integers(0, R, size=(b, R))                                         # resampled draws
        idx = (np.take_along_axis(g, j, 1) - null[j]) / (copier[j] - null[j])
        reps.append(idx.mean(1))
    lo, hi = intervals.percentile_interval(np.concatenate(reps))
    value = float(np.mean(rc.index(HEADLINE)))
    return Estimate(value, min(lo, value), max(hi, value), R,
                    f"{R} reference draw{'s' if R > 1 else ''} x {n} samples (bootstrap)")


def _run_calibration(cal, model, calib, mixtures, gauss, ratios, n_heldout):
    """The statistics as a :class:`~diffgen_lib.measure.calibrated_run.RunCalibration`
    (one snapshot, one sample seed), so the index, the copy-equivalent fraction and the quality
    index come from the book's own formulas."""
    from .calibrated_run import RunCalibration

    final = {}
    for stat, v in model.items():
        final[stat] = {"model": v[None, None], "null": calib["null"][stat][None], "copier": calib["copier"][stat][None]}
        if stat in gauss:
            final[stat]["gaussian"] = gauss[stat][None, None]
    return RunCalibration(np.array([0]), cal.n_ref, n_heldout, float(cal.dilution), final,
                          {"model": np.asarray(ratios)[None, None]}, {}, None, {}, mixtures)


def _quality_scale(rc, space: str) -> dict:
    """Whether the quality scale has a 1: the fitted Gaussian's mean distance to the val reference
    must be clearly above fresh images' (in every draw, and :data:`QUALITY_SCALE_MIN` times on average)."""
    f = rc.final[f"{space}/nn_val"]
    null, gauss, model = f["null"][0], f["gaussian"][0].mean(0), f["model"][0].mean(0)
    ok = bool(np.all(gauss > null) and gauss.mean() >= QUALITY_SCALE_MIN * null.mean())
    out = {"ok": ok, "space": space, "distance_null": float(null.mean()), "distance_gaussian": float(gauss.mean()),
           "distance_model": float(model.mean())}
    if not ok:
        out["reason"] = (f"in {space} a Gaussian fitted to the training images is not clearly further from "
                         f"held-out images than fresh images are (mean distance {gauss.mean():.3g} vs {null.mean():.3g}), "
                         "so the scale has no 1; a feature network (--features FILE.pt) may separate them")
    return out


def _copying(cal, sample_feats: dict, space: str, seed: int, sample_distances=None) -> dict:
    """C_T of the samples in ``space``: training set, all held-out images as the test set, k-means
    cells (at most :data:`CT_MAX_CELLS`, fewer when the samples are few: a cell counts from 20
    samples on). ``sample_distances``: the samples' nearest-training-image distances in this
    space, when already found (pixels: the gallery's search); in pixels the held-out images'
    distances are the Calibration's."""
    from .copying import DEFAULT_MIN_GENERATED, data_copying_test

    n_gen = len(sample_feats[space])
    k = max(1, min(CT_MAX_CELLS, len(cal.train_feats[space]), n_gen // (2 * DEFAULT_MIN_GENERATED)))
    t, p, q = (np.asarray(a, dtype=np.float32) for a in (cal.train_feats[space], cal.val_feats[space],
                                                          sample_feats[space]))
    try:
        res = data_copying_test(t, p, q, k=k, seed=seed, generated_distances=sample_distances,
                                test_distances=cal.val_nearest if space == "pixels" else None)
    except ValueError as exc:
        return {"value": None, "space": space, "cells": k, "cells_used": 0, "reason": str(exc)}
    return {"value": float(res.c_t), "space": space, "cells": int(res.k), "cells_used": int(res.used.sum()),
            "z": res.z.tolist(), "weights": res.weights.tolist()}


def verdict(report: MemorizationReport) -> str:
    """Two plain sentences: where the samples lie between fresh images and copies, and their quality."""
    i = report.index
    thr = report.mixture.get(THRESHOLD_MIXTURE, float("nan"))
    idx = f"index {i.text(_fmt)}"
    if i.hi < thr:
        if i.hi < 0:
            first = f"The samples are further from the training set than fresh images ({idx}): no sign of copying."
        else:
            first = (f"The samples are about as far from the training set as fresh images ({idx}, below the "
                     f"{THRESHOLD_MIXTURE:.0%} copy mixture's {_fmt(thr)}).")
    elif i.lo > 0:
        ce = report.copy_equivalent
        like = ("as close as copies of the training set" if ce >= 0.995
                else f"as close as a set with {ce:.0%} exact copies")
        first = f"The samples are closer to the training set than fresh images; {like} ({idx})."
    else:
        first = (f"The samples cannot be told apart from fresh images, but the interval is wide ({idx}, reaching "
                 f"the {THRESHOLD_MIXTURE:.0%} copy mixture's {_fmt(thr)}): more samples or reference draws would "
                 "narrow it.")
    q = report.quality
    if q is None:
        second = f"Quality is not measured: {report.quality_scale.get('reason', 'the scale has no 1')}."
    else:
        space = report.quality_scale["space"]
        where = f"in {space} features" if space != "pixels" else "in pixels"
        qi = f"quality index {q.text(_fmt)}; 0 fresh images, 1 a Gaussian fitted to the training images"
        if q.value < 0.25:
            second = f"They look like the data about as much as fresh images do, {where} ({qi})."
        elif q.value < 0.75:
            second = (f"They look less like the data than fresh images, but more than a Gaussian fitted to the "
                      f"training images, {where} ({qi}).")
        elif q.value < 1.5:
            second = f"They look about as unlike the data as a Gaussian fitted to the training images, {where} ({qi})."
        else:
            second = f"They look less like the data than even a Gaussian fitted to the training images, {where} ({qi})."
    return f"{first} {second}"


# ----------------------------------------------------------------------------------------------
# Report files
