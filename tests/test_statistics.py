"""The calibrated statistics as pure functions (diffgen_lib.measure.statistics), against closed forms."""

import numpy as np
import pytest

from diffgen_lib.measure import intervals, statistics


def test_index_draws_and_summary():
    model = np.array([[0.1, 0.2], [0.3, 0.4]])  # (S, R)
    idx = statistics.index_draws(model, [0.0, 0.1], [1.0, 1.1])
    np.testing.assert_allclose(idx, [[0.1, 0.1], [0.3, 0.3]])
    s = intervals.bootstrap(idx)
    assert s.n == 4 and s.lo <= s.mean <= s.hi
    assert s.contains(s.mean)


def test_nn_gap_closed_forms():
    # copies of a full train reference: distance 0 to it, so the gap is 1
    assert statistics.nn_gap([0.0, 0.0], [2.0, 4.0]) == 1.0
    # as far from both references: 0
    assert statistics.nn_gap([1.0, 3.0], [2.0, 2.0]) == 0.0
    # (mean d_val - mean d_train) / mean d_val = (3 - 1.5) / 3
    assert statistics.nn_gap([1.0, 2.0], [2.0, 4.0]) == pytest.approx(0.5)


def test_nn_cos_is_the_difference_of_the_mean_similarities():
    assert statistics.nn_cos([1.0, 0.5], [0.25, 0.25]) == pytest.approx(0.5)


def test_memorization_index_puts_null_at_zero_and_copier_at_one():
    null, copier = np.array([0.1, 0.2]), np.array([0.9, 1.0])
    np.testing.assert_allclose(statistics.memorization_index(null, null, copier), 0.0)
    np.testing.assert_allclose(statistics.memorization_index(copier, null, copier), 1.0)
    np.testing.assert_allclose(statistics.memorization_index([0.5, 0.6], null, copier), [0.5, 0.5])


def test_stack_draws_concatenates_each_statistic():
    rows = [{"a": np.array([1.0]), "b": np.array([2.0])}, {"a": np.array([3.0, 4.0]), "b": np.array([5.0, 6.0])}]
    out = statistics.stack_draws(rows)
    np.testing.assert_array_equal(out["a"], [1.0, 3.0, 4.0])
    np.testing.assert_array_equal(out["b"], [2.0, 5.0, 6.0])
