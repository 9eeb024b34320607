"""Summaries of the toy model: identity weight, effective model error of autoguidance, matching
peaks, exact recall."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import toy
from diffgen_lib.studies import toy_analysis

torch.set_num_threads(2)


def test_identity_weight_is_the_weight_on_x():
    assert toy_analysis.identity_weight(1e-4, 2.0) == pytest.approx(1.0)
    assert toy_analysis.identity_weight(1e4, 2.0) == pytest.approx(0.0, abs=1e-7)
    assert toy_analysis.identity_weight(2.0, 2.0) == pytest.approx(0.5)
    # y_delta = a x + (1 - a) y*(x; sqrt(s^2 + d^2)), checked against the toy predictor
    train, _ = toy.circle_data(10)
    x = torch.tensor([[3.0, -1.0], [0.5, 7.0]], dtype=torch.float64)
    s, d = 1.3, 0.9
    a = toy_analysis.identity_weight(s, d)
    y_star = toy.predictor(x, math.hypot(s, d), torch.from_numpy(train), 0.0)
    assert torch.allclose(toy.predictor(x, s, torch.from_numpy(train), d), a * x + (1 - a) * y_star)
    with pytest.raises(ValueError):
        toy_analysis.identity_weight(0.0, 1.0)


def test_effective_delta_of_autoguidance():
    assert toy_analysis.effective_delta(1.0, 1.8, 2.2, 0.0) == pytest.approx(1.8)
    values = [float(toy_analysis.effective_delta(1.0, 1.8, 2.2, w)) for w in (0, 0.5, 1, 2)]
    assert all(b < a for a, b in zip(values, values[1:]))
    # the guided model's weight on x equals that of an unguided model with the effective delta
    w, s = 1.5, 0.8
    a_guided = (1 + w) * toy_analysis.identity_weight(s, 1.8) - w * toy_analysis.identity_weight(s, 2.2)
    assert toy_analysis.identity_weight(s, float(toy_analysis.effective_delta(s, 1.8, 2.2, w))) == \
        pytest.approx(a_guided)
    assert toy_analysis.effective_delta(1.0, 0.1, 5.0, 100.0) == 0.0   # weight on x clipped at 0
    with pytest.raises(ValueError):
        toy_analysis.effective_delta(1.0, 2.2, 1.8, 1.0)


def test_matched_delta():
    deltas, peaks = [2.0, 1.5, 1.0], [0.1, 0.3, 0.7]
    assert toy_analysis.matched_delta(0.3, deltas, peaks) == pytest.approx(1.5)
    assert toy_analysis.matched_delta(0.5, deltas, peaks) == pytest.approx(1.25)
    assert math.isnan(toy_analysis.matched_delta(0.8, deltas, peaks))
    assert math.isnan(toy_analysis.matched_delta(0.2, [2.0, 1.5, 1.0], [0.1, 0.3, 0.2]))   # not monotone


def test_recall_fraction_and_peak_ratio():
    train = np.array([[10.0, 0.0], [0.0, 10.0]])
    points = np.array([[10.05, 0.0], [0.0, 9.0], [5.0, 5.0], [0.0, 10.0]])
    assert toy_analysis.recall_fraction(points, train, 0.1) == 0.5
    assert toy_analysis.worst_peak_ratio([1.0, 1.0], [2.0, 0.5]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        toy_analysis.worst_peak_ratio([1.0], [0.0])
