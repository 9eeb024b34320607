"""The paper's measurements: per-sigma denoising error and its relative gap, Frechet distance
and the inference-gap protocol, nearest neighbours, 1-NN cosine similarity, memorization ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from .. import diffusion

Tensor = torch.Tensor
COPY_THRESHOLD = 1.0 / 3.0  # Gu et al. / Yoon et al.: x is a copy when d1 / d2 < 1/3


# ----------------------------------------------------------------------------------------------
# Denoising error per noise level


@torch.inference_mode()
def denoising_errors(denoiser: Callable, images: Tensor, sigmas: Sequence[float], noise_seed: int = 0,
                     labels: Optional[Tensor] = None, batch_size: int = 512,
                     device: Optional[torch.device] = None) -> np.ndarray:
    """Per-sample MSE of D(y + sigma n; sigma) against y: array (len(sigmas), len(images)).

    The noise of image j comes from its own generator seeded ``noise_seed + j`` and is the same
    at every sigma (and for every snapshot evaluated with the same seed), as in the paper.
    ``denoiser(x, sigma[, labels])`` is called with a (batch,) sigma tensor, on ``device``
    (default: the denoiser's); the errors of a batch stay there until all sigmas are done.
    """
    if device is None:
        device = _device_of(denoiser)
    n = len(images)
    sigmas = [float(s) for s in sigmas]
    noise = diffusion.per_sample_noise([noise_seed + j for j in range(n)], images.shape[1:])
    out = np.empty((len(sigmas), n))
    for start in range(0, n, batch_size):
        y = images[start:start + batch_size].to(device)
        eps = noise[start:start + batch_size].to(device)
        lab = None if labels is None else labels[start:start + batch_size].to(device)
        err = torch.empty((len(sigmas), len(y)), dtype=torch.float32, device=device)
        for k, s in enumerate(sigmas):
            sig = torch.full((len(y),), s, device=device)
            x = y + s * eps
            pred = denoiser(x, sig) if lab is None else denoiser(x, sig, lab)
            err[k] = ((pred.float() - y) ** 2).flatten(1).mean(1)
        out[:, start:start + len(y)] = err.cpu().double().numpy()  # one transfer per batch
    return out


def relative_gap(err_val, err_train):
    """Relative generalization gap (E_val - E_train) / E_train."""
    err_val, err_train = np.asarray(err_val, dtype=np.float64), np.asarray(err_train, dtype=np.float64)
    return (err_val - err_train) / err_train


def overfitting_threshold(val_errors: np.ndarray, train_errors: np.ndarray) -> np.ndarray:
    """Gap at the snapshot where the validation error is smallest, separately at each sigma.

    Both inputs are (n_snapshots, n_sigmas) mean errors; returns (n_sigmas,).
    """
    val_errors, train_errors = np.asarray(val_errors), np.asarray(train_errors)
    best = np.argmin(val_errors, axis=0)
    cols = np.arange(val_errors.shape[1])
    return relative_gap(val_errors[best, cols], train_errors[best, cols])


# ----------------------------------------------------------------------------------------------
# Frechet distance and the inference-gap protocol


def frechet_distance(a, b, device=None) -> float:
    """FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between the Gaussians fitted to two
    feature sets (n, d) (Heusel et al. 2017).

    Tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S1^(1/2) S2 S1^(1/2), which is stable for singular covariances. An eigenvalue below
    -1e-3 (relative to the largest) means the covariances are not PSD: the equivalent of the
    imaginary residue of scipy's sqrtm, and it raises.

    NumPy in float64 by default. With ``device`` (or when an input is a tensor on an
    accelerator) the means, covariances and the square-root term are computed with torch on
    that device, in float64: :func:`gaussian_stats`.
    """
    dev = _fd_device(device, a, b)
    if dev is not None:
        _check_feature_sets(a, b)
        return gaussian_frechet_distance(*gaussian_stats(a, dev), *gaussian_stats(b, dev))
    a, b = _as_2d_float64(a), _as_2d_float64(b)
    _check_feature_sets(a, b)
    return gaussian_frechet_distance(*_gaussian(a), *_gaussian(b))


def gaussian_frechet_distance(mu1, s1, mu2, s2, sqrt_s1=None) -> float:
    """Frechet distance between N(mu1, s1) and N(mu2, s2); NumPy arrays, or float64 tensors
    (then computed on their device). ``sqrt_s1``: S1^(1/2) (:func:`psd_sqrt`) when it is already
    known, as for one set compared with several."""
    if sqrt_s1 is None:
        sqrt_s1 = psd_sqrt(s1)
    m = sqrt_s1 @ s2 @ sqrt_s1
    if isinstance(m, torch.Tensor):
        ev = torch.linalg.eigvalsh((m + m.T) / 2)
        lo, hi = ev.min().item(), ev.abs().max().item()
        tr_covmean = float(ev.clamp_min(0).sqrt().sum())
    else:
        ev = np.linalg.eigvalsh((m + m.T) / 2)
        lo, hi = float(ev.min(initial=0.0)), float(np.abs(ev).max(initial=0.0))
        tr_covmean = np.sqrt(np.clip(ev, 0, None)).sum()
    if min(lo, 0.0) < -1e-3 * max(1.0, hi):
        raise ValueError(f"covariance product has a negative eigenvalue {lo:.3g}: "
                         "the matrix square root would be complex")
    diff = mu1 - mu2
    return float(diff @ diff + s1.trace() + s2.trace() - 2 * tr_covmean)


def psd_sqrt(s):
    """Symmetric square root of a PSD matrix (NumPy or torch), negative round-off clipped to 0."""
    if isinstance(s, torch.Tensor):
        evals, evecs = torch.linalg.eigh((s + s.T) / 2)
        return (evecs * evals.clamp_min(0).sqrt()) @ evecs.T
    evals, evecs = np.linalg.eigh((s + s.T) / 2)
    return (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T


@torch.no_grad()
def gaussian_stats(x, device=None, chunk: int = 8192):
    """Mean (d,) and unbiased covariance (d, d) of a feature set (n, d) as float64 tensors on
    ``device`` (default: x's), for large n: rows are moved and converted in chunks, and the
    covariance is accumulated from centred chunks (two passes)."""
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    x = x.detach().reshape(len(x), -1)
    device = x.device if device is None else torch.device(device)
    n, d = x.shape
    if n < 2:
        raise ValueError("need at least 2 samples in each set")
    total = torch.zeros(d, dtype=torch.float64, device=device)
    for start in range(0, n, chunk):
        total += x[start:start + chunk].to(device, torch.float64).sum(0)
    mu = total / n
    cov = torch.zeros((d, d), dtype=torch.float64, device=device)
    for start in range(0, n, chunk):
        xc = x[start:start + chunk].to(device, torch.float64) - mu
        cov.addmm_(xc.T, xc)
    return mu, cov / (n - 1)


def matched_subsets(train_labels, reference_labels, n_subsets: int, seed: int = 0,
                    fallback: bool = False) -> List[np.ndarray]:
    """Index arrays into the training set, each with the same size and class counts as the
    reference (val) set. Subsets are disjoint while the training set has enough images of a class;
    after that a class's draws restart from a fresh permutation. A class with fewer images than
    the reference needs raises ValueError, or with ``fallback`` gives plain random subsets of the
    reference's size instead."""
    train_labels, reference_labels = np.asarray(train_labels), np.asarray(reference_labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(reference_labels, return_counts=True)
    pools = {}
    for c in classes:
        pool = np.flatnonzero(train_labels == c)
        if len(pool) < counts[classes == c][0]:
            if fallback:
                return [np.sort(rng.choice(len(train_labels), len(reference_labels), replace=False))
                        for _ in range(n_subsets)]
            raise ValueError(f"class {c}: the training set has {len(pool)} images, the reference needs "
                             f"{counts[classes == c][0]}")
        pools[c] = pool
    subsets, cursors, perms = [], {c: 0 for c in classes}, {c: rng.permutation(pools[c]) for c in classes}
    for _ in range(n_subsets):
        idx = []
        for c, k in zip(classes, counts):
            if cursors[c] + k > len(perms[c]):
                perms[c], cursors[c] = rng.permutation(pools[c]), 0
            idx.append(perms[c][cursors[c]:cursors[c] + k])
            cursors[c] += k
        subsets.append(np.sort(np.concatenate(idx)))
    return subsets


@dataclass
class InferenceGap:
    """The inference-gap protocol of the paper in one feature space."""

    fd_val: float            # FD(generated, val)
    fd_train: float          # mean over k of FD(generated, train_k)
    gap: float               # (fd_val - fd_train) / fd_train
    fd_train_vs_val: float   # baseline: mean FD(train_k, val)
    fd_train_vs_train: float # baseline (floor): mean FD(train_k, train_l), k != l


class FDReference:
    """The fixed side of the inference-gap protocol (the paper's): the Gaussian statistics of
    the val reference and of train subsets of its size and class prior (``subsets`` from
    :func:`matched_subsets`), and the two baselines, computed once for any number of generated
    sets. NumPy by default; with ``device`` (or accelerator tensors as inputs) torch on that
    device (:func:`gaussian_stats`)."""

    def __init__(self, train_features, val_features, subsets: Sequence[np.ndarray], device=None):
        self.device = _fd_device(device, train_features, val_features)
        if self.device is None:
            train = _as_2d_float64(train_features)
            self.train_stats = [_gaussian(train[idx]) for idx in subsets]
            self.val_stats = _gaussian(_as_2d_float64(val_features))
        else:
            train = _flat_tensor(train_features, self.device)
            self.train_stats = [gaussian_stats(train[torch.as_tensor(np.asarray(idx), device=self.device)])
                                for idx in subsets]
            self.val_stats = gaussian_stats(val_features, self.device)
        stats, v = self.train_stats, self.val_stats
        self.fd_train_vs_val = float(np.mean([gaussian_frechet_distance(*t, *v) for t in stats]))
        pairs = [(i, j) for i in range(len(stats)) for j in range(i + 1, len(stats))]
        self.fd_train_vs_train = (float(np.mean([gaussian_frechet_distance(*stats[i], *stats[j])
                                                 for i, j in pairs])) if pairs else float("nan"))

    def gen_stats(self, gen_features):
        """(mean, covariance, covariance^(1/2)) of a generated feature set, in this reference's
        arithmetic (NumPy, or torch on its device): computed once, usable with :meth:`gap_from_stats`."""
        g = (_gaussian(_as_2d_float64(gen_features)) if self.device is None
             else gaussian_stats(gen_features, self.device))
        return g[0], g[1], psd_sqrt(g[1])

    def gap_from_stats(self, mu, cov, root) -> InferenceGap:
        """:meth:`gap` from :meth:`gen_stats` (the square root is shared by every FD)."""
        fd_val = gaussian_frechet_distance(mu, cov, *self.val_stats, sqrt_s1=root)
        fd_train = float(np.mean([gaussian_frechet_distance(mu, cov, *t, sqrt_s1=root) for t in self.train_stats]))
        return InferenceGap(fd_val, fd_train, relative_difference(fd_val, fd_train),
                            self.fd_train_vs_val, self.fd_train_vs_train)

    def gap(self, gen_features) -> InferenceGap:
        """FD of the generated features to the val reference and (averaged) to the train subsets."""
        return self.gap_from_stats(*self.gen_stats(gen_features))


def relative_difference(a: float, b: float) -> float:
    """(a - b) / b, with b = 0 (a set that matches a train reference exactly) giving +-inf, or
    nan when a = b = 0, instead of raising."""
    if b == 0:
        return float("nan") if a == 0 else float(np.copysign(np.inf, a))
    return (a - b) / b


def inference_gap(gen_features, train_features, val_features, subsets: Sequence[np.ndarray],
                  device=None) -> InferenceGap:
    """FD of generated features to the val set and to several train subsets of the val set's size
    and class prior, with the two baselines: :class:`FDReference` for a single generated set."""
    dev = _fd_device(device, gen_features, train_features, val_features)
    return FDReference(train_features, val_features, subsets, dev).gap(gen_features)


# ----------------------------------------------------------------------------------------------
# Nearest neighbours


@torch.no_grad()
def nearest_neighbors(query, reference, k: int = 1, metric: str = "l2", chunk: int = 1024,
                      device=None):
    """Exact k nearest neighbours of each query row in ``reference``, in chunks of queries.

    metric "l2": Euclidean distances; "cosine": cosine similarities (largest first).
    Runs on ``device`` (default: an accelerator an input lives on, else the CPU).
    Returns (values (M, k), indices (M, k)) as NumPy arrays.
    """
    device = _fd_device(device, query, reference) or torch.device("cpu")
    q, r = _flat_tensor(query, device), _flat_tensor(reference, device)
    if metric not in ("l2", "cosine"):
        raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    if not 1 <= k <= len(r):
        raise ValueError(f"k must be in [1, {len(r)}], got {k}")
    if metric == "cosine":
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
        r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
    r_sq = (r * r).sum(1)
    values, indices = [], []
    for start in range(0, len(q), chunk):
        qc = q[start:start + chunk]
        if metric == "cosine":
            v, i = (qc @ r.T).topk(k, dim=1)
        else:
            d2 = (qc * qc).sum(1, keepdim=True) - 2 * qc @ r.T + r_sq
            i = d2.topk(k, dim=1, largest=False).indices
            # Recompute the chosen distances directly: the expansion above loses precision near 0.
            v = (qc[:, None, :] - r[i]).norm(dim=2)
            v, order = v.sort(dim=1)
            i = i.gather(1, order)
        values.append(v)
        indices.append(i)
    return torch.cat(values).cpu().numpy(), torch.cat(indices).cpu().numpy()


# ----------------------------------------------------------------------------------------------
# Nearest neighbours within reference subsets (the calibrated statistics)

CANDIDATES = 4  # nearest candidates from the matrix product, whose distances are then computed exactly


@torch.no_grad()
def subset_nearest(query, reference, subsets: Sequence[Optional[np.ndarray]], metric: str = "l2",
                   chunk_elements: int = 1 << 25) -> np.ndarray:
    """For every subset of the reference's rows (an index array, or None for all of them) and every
    query row: the distance to its nearest reference row in that subset ("l2", Euclidean), or its
    largest cosine similarity to one ("cosine"). Returns (len(subsets), M) float32.

    The candidates come from the matrix-product form (fast, but it loses the zeros of exact copies
    and the last digits of near ties); the chosen value is then computed directly from the two
    rows, so it does not depend on the chunk of queries, the thread count or the other rows: an
    exact copy has distance 0, and a query gives the same value alone or in any set."""
    if metric not in ("l2", "cosine"):
        raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    q = torch.as_tensor(np.asarray(query) if not isinstance(query, torch.Tensor) else query).reshape(len(query), -1)
    r = torch.as_tensor(np.asarray(reference) if not isinstance(reference, torch.Tensor) else reference)
    q, r = q.to(torch.float32), r.reshape(len(r), -1).to(torch.float32)
    if metric == "cosine":
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
        r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cols = [torch.arange(len(r)) if s is None else torch.as_tensor(np.asarray(s), dtype=torch.long) for s in subsets]
    union = torch.unique(torch.cat(cols))
    where = torch.full((len(r),), -1, dtype=torch.long)
    where[union] = torch.arange(len(union))
    ru = r[union]
    ru_sq = (ru * ru).sum(1)
    local = [where[c] for c in cols]
    out = np.empty((len(cols), len(q)), dtype=np.float32)
    step = max(1, int(chunk_elements // max(1, len(ru))))
    for start in range(0, len(q), step):
        qc = q[start:start + step]
        if metric == "cosine":
            score = qc @ ru.T  # larger is nearer
        else:
            score = -((qc * qc).sum(1, keepdim=True) - 2 * qc @ ru.T + ru_sq)
        for j, lc in enumerate(local):
            k = min(CANDIDATES, len(lc))
            sub = score if len(lc) == len(ru) and bool((lc == torch.arange(len(ru))).all()) else score[:, lc]
            cand = lc[sub.topk(k, dim=1).indices]                    # (m, k) into ru
            rows = ru[cand]                                          # (m, k, D)
            if metric == "cosine":
                value = (qc[:, None, :] * rows).sum(2).max(1).values
            else:
                value = (qc[:, None, :] - rows).norm(dim=2).min(1).values
            out[j, start:start + len(qc)] = value.numpy()
    return out


def nn_cosine_similarity(query, reference, device=None) -> np.ndarray:
    """1-NN cosine similarity of each query to the reference set (the nearest-neighbour probe)."""
    return nearest_neighbors(query, reference, k=1, metric="cosine", device=device)[0][:, 0]


def memorization_ratio(samples, train, device=None) -> np.ndarray:
    """d1 / d2: distance to the nearest training point over that to the second nearest."""
    d, _ = nearest_neighbors(samples, train, k=2, device=device)
    return d[:, 0] / np.maximum(d[:, 1], 1e-12)


def copy_fraction(ratios, threshold: float = COPY_THRESHOLD) -> float:
    """Fraction of samples whose memorization ratio is below the threshold (copies)."""
    return float(np.mean(np.asarray(ratios) < threshold))


# ----------------------------------------------------------------------------------------------
# Summaries


def rank_correlation(a, b) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _gaussian(x: np.ndarray):
    """Mean and unbiased covariance of a NumPy feature set (n, d), in float64."""
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def _as_2d_float64(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def _check_feature_sets(a, b) -> None:
    (na, *da), (nb, *db) = np.shape(a), np.shape(b)
    if int(np.prod(da)) != int(np.prod(db)):
        raise ValueError(f"feature dimensions differ: {int(np.prod(da))} and {int(np.prod(db))}")
    if na < 2 or nb < 2:
        raise ValueError("need at least 2 samples in each set")


def _fd_device(device, *xs) -> Optional[torch.device]:
    """``device`` if given, else the device of the first input on an accelerator, else None."""
    if device is not None:
        return torch.device(device)
    for x in xs:
        if isinstance(x, torch.Tensor) and x.device.type != "cpu":
            return x.device
    return None


def _flat_tensor(x, device: torch.device = torch.device("cpu")) -> Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.asarray(x))
    x = x.detach().to(device)
    if not x.is_floating_point():
        x = x.double()
    return x.reshape(len(x), -1).to(torch.float64 if x.dtype == torch.float64 else torch.float32)


def _device_of(module) -> torch.device:
    try:
        return next(module.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")
