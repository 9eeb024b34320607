"""The data-copying test statistic C_T of Meehan, Chaudhuri & Dasgupta, "A Non-Parametric Test to
Detect Data-Copying in Generative Models" (AISTATS 2020), and the kernel density estimator whose
bandwidth moves it from copying to underfitting (the paper's synthetic check).

Three samples: the training set T, a held-out test set P_n from the same distribution and the
generated samples Q_m. The space is cut into k cells by k-means fitted on T. In each cell the
distances of the test points to their nearest training point are compared with those of the
generated points by a Mann-Whitney U test; C_T averages the cells' Z-scores weighted by the
share of test points in each cell. C_T << 0: the generated samples lie closer to the training
set than fresh data does (data-copying); C_T >> 0: further (underfitting); C_T ~ N(0, 1)-sized
when the model samples the data distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .metrics import nearest_neighbors

KMEANS_FIT_MAX = 10_000     # k-means is fitted on at most this many training points (a seeded subset)
DEFAULT_MIN_GENERATED = 20  # tau = 20 / m: the authors' choice, and where U's normal approximation holds


@dataclass(frozen=True)
class CopyingTest:
    """C_T and its parts, per cell pi of the k-means partition (arrays of length k).

    ``z``: Z_U(pi) (nan where a cell has no test or no generated point); ``weights``: P_n(pi),
    the share of test points in the cell; ``used``: pi in Pi_tau (at least ``min_generated``
    generated samples and one test point); ``n_train``, ``n_test``, ``n_generated``: points per
    cell. ``c_t`` = sum over used cells of weights * z / sum over used cells of weights.
    """

    c_t: float
    z: np.ndarray
    weights: np.ndarray
    used: np.ndarray
    k: int
    n_train: np.ndarray
    n_test: np.ndarray
    n_generated: np.ndarray
    min_generated: int


def mann_whitney_z(test_distances, generated_distances) -> float:
    """Z-score of the Mann-Whitney U statistic of the generated distances against the test
    distances, with U's normal approximation under H_0 (no tie or continuity correction):

        U = #{(i, j): L(Q_m)_j > L(P_n)_i} + #{ties} / 2,
        Z_U = (U - m n / 2) / sqrt(m n (m + n + 1) / 12),

    n test and m generated distances. Z_U < 0 when the generated samples are closer to the
    training set than the test samples (data-copying), Z_U > 0 when further (underfitting).
    """
    from scipy.stats import rankdata

    a = np.asarray(test_distances, dtype=np.float64).ravel()
    b = np.asarray(generated_distances, dtype=np.float64).ravel()
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError(f"need at least one test and one generated distance, got {n} and {m}")
    ranks = rankdata(np.concatenate([a, b]))  # average ranks for ties
    u = ranks[n:].sum() - m * (m + 1) / 2.0
    return float((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))


def data_copying_test(train, test, generated, k: int = 10, min_generated: int = DEFAULT_MIN_GENERATED,
                      seed: int = 0, n_init: int = 3, within_cell: bool = False,
                      device=None, generated_distances=None, test_distances=None,
                      fit_max: int = KMEANS_FIT_MAX) -> CopyingTest:
    """The data-copying statistic C_T(P_n, Q_m) of Meehan et al. 2020 (their global test):

        C_T(P_n, Q_m) = sum_{pi in Pi_tau} P_n(pi) Z_U(pi) / sum_{pi in Pi_tau} P_n(pi),
        Pi_tau = {pi : Q_m(pi) >= tau},

    with the cells pi from k-means (k clusters, ``seed``, ``n_init`` restarts) fitted on the
    training set ``train`` (m, d; on ``fit_max`` of its points drawn with ``seed`` when it has
    more: the cells only partition the space, and any partition fixed before the generated points
    are seen is a valid one), the held-out ``test`` set P_n (n, d), the ``generated`` set
    Q_m (m', d) (NumPy arrays or tensors; images are flattened), and Z_U(pi) from
    :func:`mann_whitney_z` on the Euclidean distances to the nearest training point of the
    test and generated points in pi (:func:`~diffgen_lib.measure.metrics.nearest_neighbors`,
    on ``device``). ``within_cell``: the nearest training point among the cell's own
    training points, as the authors' reference code computes it; by default the whole of T.

    Threshold: tau = ``min_generated`` / m', i.e. a cell is used when it holds at least
    ``min_generated`` (default 20) generated samples, Q_m(pi) >= tau as Pi_tau is defined in
    the paper (the authors' reference code compares strictly, Q_m(pi) > tau). Why: a cell the
    model rarely samples says little about copying there, and Z_U rests on the normal
    approximation of U, which is trusted from about 20 points per group; tau = 20 / m is the
    form of threshold the authors use in their experiments. A cell also needs one test point
    (else its weight P_n(pi) is 0 anyway). Raises ValueError when no cell qualifies: use fewer
    cells or more samples. ``generated_distances``: the generated points' distances to their
    nearest training point when the caller has them already (whole-T distances only), and
    ``test_distances`` the test points'.
    """
    t, p, q = (_flat(x) for x in (train, test, generated))
    if len({t.dtype, p.dtype, q.dtype}) > 1:  # one dtype for k-means' predict and the NN search
        t, p, q = (x.astype(np.float64) for x in (t, p, q))
    if not (t.shape[1] == p.shape[1] == q.shape[1]):
        raise ValueError(f"feature dimensions differ: train {t.shape[1]}, test {p.shape[1]}, "
                         f"generated {q.shape[1]}")
    if not 1 <= k <= len(t):
        raise ValueError(f"k must be in [1, {len(t)}] (the training set's size), got {k}")
    if len(p) == 0 or len(q) == 0:
        raise ValueError(f"need test and generated samples, got {len(p)} and {len(q)}")
    if min_generated < 1:
        raise ValueError(f"min_generated must be >= 1, got {min_generated}")
    from sklearn.cluster import KMeans

    fit = t if len(t) <= fit_max else t[np.sort(np.random.default_rng([seed, 17]).choice(len(t), fit_max, replace=False))]
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(fit)
    cell_t, cell_p, cell_q = (km.labels_ if fit is t else km.predict(t)), km.predict(p), km.predict(q)
    if within_cell:
        d_p, d_q = np.empty(len(p)), np.empty(len(q))
        for c in range(k):
            ref = t[cell_t == c]
            for cells, x, out in ((cell_p, p, d_p), (cell_q, q, d_q)):
                sel = cells == c
                if sel.any():
                    out[sel] = nearest_neighbors(x[sel], ref, k=1, device=device)[0][:, 0]
    else:
        d_p, d_q = (nearest_neighbors(x, t, k=1, device=device)[0][:, 0] if known is None
                    else np.asarray(known, dtype=np.float64).reshape(-1)
                    for x, known in ((p, test_distances), (q, generated_distances)))
        for name, d, x in (("test_distances", d_p, p), ("generated_distances", d_q, q)):
            if len(d) != len(x):
                raise ValueError(f"{name}: {len(d)} values for {len(x)} points")
    n_train, n_test, n_gen = (np.bincount(c, minlength=k) for c in (cell_t, cell_p, cell_q))
    z = np.full(k, np.nan)
    for c in range(k):
        if n_test[c] and n_gen[c]:
            z[c] = mann_whitney_z(d_p[cell_p == c], d_q[cell_q == c])
    weights = n_test / len(p)
    used = (n_gen >= min_generated) & (n_test > 0)
    if not used.any():
        raise ValueError(f"no cell holds at least {min_generated} of the {len(q)} generated samples and "
                         f"a test point (k = {k}): use fewer cells or more samples")
    c_t = float(weights[used] @ z[used] / weights[used].sum())
    return CopyingTest(c_t, z, weights, used, k, n_train, n_test, n_gen, int(min_generated))


def kde_samples(train, bandwidth: float, n: int, seed: int = 0):
    """n samples of the Gaussian kernel density estimate of ``train`` (Eq. 1 of Meehan et al.
    2020): a training point drawn uniformly, plus N(0, bandwidth^2 I) noise. Bandwidth -> 0
    gives copies of the training set. Same shape per sample and same kind as ``train``: a NumPy
    array (float64) or a tensor (its floating dtype, on the CPU)."""
    if bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0, got {bandwidth}")
    rng = np.random.default_rng(seed)
    is_tensor = isinstance(train, torch.Tensor)
    x = train.detach().cpu().numpy() if is_tensor else np.asarray(train)
    if len(x) == 0:
        raise ValueError("the training set is empty")
    idx = rng.integers(0, len(x), size=n)
    out = x[idx].astype(np.float64) + bandwidth * rng.standard_normal((n, *x.shape[1:]))
    if is_tensor:
        dtype = train.dtype if train.is_floating_point() else torch.float32
        return torch.from_numpy(out).to(dtype)
    return out


def _flat(x) -> np.ndarray:
    """A sample set as a (N, d) NumPy array: float32 kept, anything else float64."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    return x.reshape(len(x), -1)
