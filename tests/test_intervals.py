"""The one interval module: percentile bootstraps over draws, over groups, over images."""

import numpy as np
import pytest

from diffgen_lib.measure import intervals
from diffgen_lib.measure.verdicts import verdict


def _tuple(fn, *args, **kwargs):
    e = fn(*args, **kwargs)
    return e.value, e.lo, e.hi


def test_bootstrap_interval_of_a_known_distribution_covers_its_mean():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(200):
        draws = rng.normal(2.0, 1.0, size=15)
        _, lo, hi = _tuple(intervals.bootstrap, draws, level=0.9, n_boot=1000, seed=trial)
        covered += lo <= 2.0 <= hi
    # a 90% percentile interval from 15 draws covers the true mean in roughly 85-92% of trials
    assert 0.8 <= covered / 200 <= 0.97


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    draws = [0.09, 0.11, 0.10, 0.12, 0.08]
    a = _tuple(intervals.bootstrap, draws, seed=3)
    assert a == _tuple(intervals.bootstrap, draws, seed=3)
    mean, lo, hi = a
    assert mean == pytest.approx(0.1) and lo < mean < hi
    assert _tuple(intervals.bootstrap, [0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        _tuple(intervals.bootstrap, [])
    with pytest.raises(ValueError):
        _tuple(intervals.bootstrap, [1.0, float("nan")])


def test_bootstrap_interval_of_the_median():
    draws = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0]
    median, lo, hi = _tuple(intervals.bootstrap, draws, statistic="median")
    assert median == 0.0 and lo == 0.0 and hi == 0.0  # one outlier moves the mean, not the median
    assert _tuple(intervals.bootstrap, draws)[0] == pytest.approx(5 / 9)
    with pytest.raises(ValueError):
        _tuple(intervals.bootstrap, draws, statistic="mode")


def test_grouped_bootstrap_of_a_rank_statistic_and_a_difference():
    from diffgen_lib.measure.metrics import rank_correlation

    xs = np.array([0, 5, 10, 30])
    # well separated groups: every resample keeps the order, so the interval is the single value 1
    separated = [np.array([1.0, 1.1, 0.9]) + 2 * i for i in range(4)]
    assert _tuple(intervals.group_means_bootstrap, separated, lambda m: rank_correlation(xs, m)) == (1.0, 1.0, 1.0)
    # overlapping groups: the value of the means is 1 but resamples reorder them
    overlapping = [np.array([1.0, 2.0, 0.0]) + 0.1 * i for i in range(4)]
    value, lo, hi = _tuple(intervals.group_means_bootstrap, overlapping, lambda m: rank_correlation(xs, m))
    assert value == pytest.approx(1.0) and lo < 0.8 <= hi
    assert verdict(lo, hi, ">=", 0.8) == "INCONCLUSIVE"
    # a difference of two group means: the interval of a known mean difference covers it
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(100):
        a, b = 3.0 + rng.normal(size=30), 1.0 + rng.normal(size=30)
        value, lo, hi = _tuple(intervals.group_means_bootstrap, [a, b], lambda m: m[0] - m[1], n_boot=500, seed=trial)
        assert value == pytest.approx(a.mean() - b.mean()) and lo < value < hi
        covered += lo <= 2.0 <= hi
    assert 80 <= covered <= 97  # about 90% (a percentile bootstrap of 30 draws runs a little short)
    again = _tuple(intervals.group_means_bootstrap, [a, b], lambda m: m[0] - m[1], n_boot=500, seed=trial)
    assert again == (value, lo, hi)  # seeded
    with pytest.raises(ValueError):
        _tuple(intervals.group_means_bootstrap, [a, []], lambda m: m[0])



def test_image_bootstrap_value_interval_and_degenerate_images():
    """The value is the statistic of the means over all images; the interval holds it; images that
    are all alike give an interval of zero width; the train and val images are redrawn apart."""
    rng = np.random.default_rng(0)
    tr, va = rng.gamma(2.0, 1.0, (3, 50)), rng.gamma(2.0, 1.5, (3, 60))

    def gap(t, v):
        return float(np.max((v - t) / t))

    value, lo, hi = _tuple(intervals.paired_bootstrap, tr, va, gap, n_boot=300, seed=1)
    assert value == pytest.approx(gap(tr.mean(-1), va.mean(-1)))
    assert lo < value < hi
    same = np.ones((3, 50))
    assert _tuple(intervals.paired_bootstrap, same, 2 * same, gap, n_boot=50) == (1.0, 1.0, 1.0)
    # the same seed gives the same interval; another seed another one
    assert _tuple(intervals.paired_bootstrap, tr, va, gap, n_boot=300, seed=1) == (value, lo, hi)
    assert _tuple(intervals.paired_bootstrap, tr, va, gap, n_boot=300, seed=2) != (value, lo, hi)
    # a statistic that is infinite in some draws gives an interval with inf, never nan
    value, lo, hi = _tuple(intervals.paired_bootstrap, tr, va, lambda t, v: np.inf if v[0] > 3.2 else 1.0, n_boot=300)
    assert not np.isnan([lo, hi]).any() and (lo, hi) == (1.0, np.inf)



def test_nested_bootstrap_resamples_training_seeds_first():
    """With groups that differ (training seeds) the nested interval is wider than the interval
    of the pooled draws, which covers only the noise inside the groups; one group gives the plain
    interval; the value is the mean of the group means."""
    rng = np.random.default_rng(0)
    groups = [rng.normal(m, 0.05, size=15) for m in (0.1, 0.2, 0.3)]
    nested = intervals.nested_bootstrap(groups, covers="3 training seeds x 15 draws")
    pooled = intervals.bootstrap(np.concatenate(groups))
    assert nested.value == pytest.approx(np.mean([g.mean() for g in groups]))
    assert nested.hi - nested.lo > 3 * (pooled.hi - pooled.lo)
    assert nested.lo < 0.2 < nested.hi and nested.n == 45 and nested.covers.startswith("3 training")
    one = intervals.nested_bootstrap(groups[:1])
    assert (one.value, one.lo, one.hi) == _tuple(intervals.bootstrap, groups[0])
    assert intervals.nested_bootstrap(groups, seed=1) != intervals.nested_bootstrap(groups, seed=2)
    with pytest.raises(ValueError):
        intervals.nested_bootstrap([groups[0], []])


def test_estimate_text_exact_and_percentile_interval():
    e = intervals.Estimate(0.1234, 0.1, 0.15, 15, "15 draws")
    assert e.text() == "0.123 [0.1, 0.15]" and e.contains(0.12) and not e.contains(0.2) and e.mean == e.value
    assert intervals.Estimate.exact(1.0).text() == "1 [1, 1]"
    assert intervals.percentile_interval(np.arange(101.0)) == pytest.approx((5.0, 95.0))
    with pytest.raises(ValueError):
        intervals.percentile_interval([1.0, 2.0], level=1.5)
