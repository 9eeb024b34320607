"""Bootstrap intervals and three-valued verdicts."""

import pytest

from diffgen_lib.measure import verdicts


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


def test_combinators_share_one_order():
    assert verdicts.worst_verdict("PASS", "INCONCLUSIVE") == "INCONCLUSIVE"
    assert verdicts.worst_verdict("PASS", "PASS") == "PASS"
    assert verdicts.worst_verdict("INCONCLUSIVE", "FAIL", "PASS") == "FAIL"
    assert verdicts.all_verdict([True, True, True]) == "PASS"
    assert verdicts.all_verdict([False, False]) == "FAIL"
    assert verdicts.all_verdict([True, False]) == "INCONCLUSIVE"
    assert verdicts.all_verdict([True, False, True]) == "INCONCLUSIVE"
    assert sorted(verdicts.VERDICTS, key=verdicts.ORDER.__getitem__) == ["FAIL", "INCONCLUSIVE", "PASS"]
    with pytest.raises(ValueError):
        verdicts.worst_verdict("PASS", "maybe")
    with pytest.raises(ValueError):
        verdicts.all_verdict([])


