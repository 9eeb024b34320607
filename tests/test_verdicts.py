"""Bootstrap intervals and three-valued verdicts."""

import numpy as np
import pytest

from diffgen_lib.measure import verdicts


def test_bootstrap_interval_of_a_known_distribution_covers_its_mean():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(200):
        draws = rng.normal(2.0, 1.0, size=15)
        _, lo, hi = verdicts.bootstrap_interval(draws, level=0.9, n_boot=1000, seed=trial)
        covered += lo <= 2.0 <= hi
    # a 90% percentile interval from 15 draws covers the true mean in roughly 85-92% of trials
    assert 0.8 <= covered / 200 <= 0.97


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    draws = [0.09, 0.11, 0.10, 0.12, 0.08]
    a = verdicts.bootstrap_interval(draws, seed=3)
    assert a == verdicts.bootstrap_interval(draws, seed=3)
    mean, lo, hi = a
    assert mean == pytest.approx(0.1) and lo < mean < hi
    assert verdicts.bootstrap_interval([0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        verdicts.bootstrap_interval([])
    with pytest.raises(ValueError):
        verdicts.bootstrap_interval([1.0, float("nan")])


@pytest.mark.parametrize("draws, expected", [
    ([0.02, 0.03, 0.04, 0.05], "PASS"),          # every resampled mean below 0.1
    ([0.30, 0.25, 0.40, 0.35], "FAIL"),          # every one above
    ([0.05, 0.15, 0.06, 0.14], "INCONCLUSIVE"),  # the interval straddles 0.1
])
def test_hand_made_draws_give_the_expected_verdict(draws, expected):
    _, lo, hi = verdicts.bootstrap_interval(draws)
    assert verdicts.verdict(lo, hi, "<=", 0.1) == expected


def test_verdict_directions_and_bad_input():
    assert verdicts.verdict(0.6, 0.9, ">=", 0.5) == "PASS"
    assert verdicts.verdict(0.1, 0.4, ">", 0.5) == "FAIL"
    assert verdicts.verdict(0.4, 0.6, "<", 0.5) == "INCONCLUSIVE"
    assert verdicts.verdict(0.5, 0.5, "<=", 0.5) == "PASS"
    with pytest.raises(ValueError):
        verdicts.verdict(0.0, 1.0, "==", 0.5)
    with pytest.raises(ValueError):
        verdicts.verdict(1.0, 0.0, "<", 0.5)


def test_bootstrap_interval_of_the_median():
    draws = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0]
    median, lo, hi = verdicts.bootstrap_interval(draws, statistic="median")
    assert median == 0.0 and lo == 0.0 and hi == 0.0  # one outlier moves the mean, not the median
    assert verdicts.bootstrap_interval(draws)[0] == pytest.approx(5 / 9)
    with pytest.raises(ValueError):
        verdicts.bootstrap_interval(draws, statistic="mode")


def test_combinators_share_one_order():
    assert verdicts.worst_verdict("PASS", "INCONCLUSIVE") == "INCONCLUSIVE"
    assert verdicts.all_verdict([True, False]) == "INCONCLUSIVE"
    assert sorted(verdicts.VERDICTS, key=verdicts.ORDER.__getitem__) == ["FAIL", "INCONCLUSIVE", "PASS"]


def test_grouped_bootstrap_of_a_rank_statistic_and_a_difference():
    from diffgen_lib.measure.metrics import rank_correlation
    from diffgen_lib.measure.verdicts import grouped_bootstrap

    xs = np.array([0, 5, 10, 30])
    # well separated groups: every resample keeps the order, so the interval is the single value 1
    separated = [np.array([1.0, 1.1, 0.9]) + 2 * i for i in range(4)]
    assert grouped_bootstrap(separated, lambda m: rank_correlation(xs, m)) == (1.0, 1.0, 1.0)
    # overlapping groups: the value of the means is 1 but resamples reorder them
    overlapping = [np.array([1.0, 2.0, 0.0]) + 0.1 * i for i in range(4)]
    value, lo, hi = grouped_bootstrap(overlapping, lambda m: rank_correlation(xs, m))
    assert value == pytest.approx(1.0) and lo < 0.8 <= hi
    assert verdicts.verdict(lo, hi, ">=", 0.8) == "INCONCLUSIVE"
    # a difference of two group means: the interval of a known mean difference covers it
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(100):
        a, b = 3.0 + rng.normal(size=30), 1.0 + rng.normal(size=30)
        value, lo, hi = grouped_bootstrap([a, b], lambda m: m[0] - m[1], n_boot=500, seed=trial)
        assert value == pytest.approx(a.mean() - b.mean()) and lo < value < hi
        covered += lo <= 2.0 <= hi
    assert 80 <= covered <= 97  # about 90% (a percentile bootstrap of 30 draws runs a little short)
    again = grouped_bootstrap([a, b], lambda m: m[0] - m[1], n_boot=500, seed=trial)
    assert again == (value, lo, hi)  # seeded
    with pytest.raises(ValueError):
        grouped_bootstrap([a, []], lambda m: m[0])
