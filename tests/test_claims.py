"""Claims as records: the verdict rule (controls, preconditions) and the CLAIM line."""

import pytest

from diffgen_lib.measure.intervals import Estimate
from diffgen_lib.studies import claims

LOW = claims.Criterion("<", 0.05, "the 5% copy mixture")


def test_a_control_that_fails_leaves_the_verdict_to_the_interval():
    r = claims.claim("C4a", [("index", Estimate(0.02, 0.01, 0.03, 15), LOW)],
                     {"optimal denoiser": Estimate(1.0, 0.98, 1.0, 15)})
    assert r.verdict == "PASS" and r.reason == "" and r.controls[0].verdict == "FAIL"
    r = claims.claim("C4a", [("index", Estimate(0.2, 0.15, 0.25, 15), LOW)],
                     {"optimal denoiser": Estimate(1.0, 0.98, 1.0, 15)})
    assert r.verdict == "FAIL"


def test_a_control_that_does_not_fail_makes_the_claim_inconclusive():
    """A criterion the positive control also meets cannot fail: whatever the model scored."""
    r = claims.claim("C4d", [("change", Estimate(0.01, 0.0, 0.02, 15), claims.Criterion("<", 0.1))],
                     {"optimal denoiser": Estimate(0.0, 0.0, 0.0, 15), "N=150 run": Estimate(0.5, 0.4, 0.6)})
    assert r.raw_verdict == "PASS" and r.verdict == "INCONCLUSIVE"
    assert claims.CANNOT_FAIL in r.reason and "optimal denoiser PASS" in r.reason and "N=150" not in r.reason
    inconclusive_control = claims.claim("C4d", [("change", Estimate(0.01, 0.0, 0.02), claims.Criterion("<", 0.1))],
                                        {"x": Estimate(0.1, 0.05, 0.15)})
    assert inconclusive_control.verdict == "INCONCLUSIVE"


def test_a_precondition_makes_the_claim_inconclusive_with_its_reason():
    r = claims.claim("C4b", [("partial index", Estimate(0.01, 0.0, 0.02), claims.Criterion("<", 0.25))],
                     {"optimal denoiser": Estimate(1.0, 1.0, 1.0)}, precondition="97% of the samples decided")
    assert r.verdict == "INCONCLUSIVE" and r.reason == "97% of the samples decided"


def test_empirical_claims_need_a_control_closed_form_ones_do_not():
    with pytest.raises(ValueError, match="control"):
        claims.claim("C2a", [("rank", Estimate(1.0, 1.0, 1.0), claims.Criterion(">=", 0.8))])
    r = claims.claim("C1a", [("copies", Estimate(1.0, 1.0, 1.0), claims.Criterion(">=", 0.95))])
    assert r.verdict == "PASS" and not r.empirical


def test_a_claim_with_two_parts_takes_the_weaker_and_its_controls_fail_on_either():
    """The fitted Gaussian copies nothing (it passes the novelty part) but does not look like the
    data (it fails the quality part): as a control it FAILs the claim."""
    parts = [("index", Estimate(0.01, 0.0, 0.02), LOW), ("quality index", Estimate(0.7, 0.6, 0.8), claims.Criterion("<", 0.5))]
    r = claims.claim("C4a", parts, {"fitted Gaussian": [Estimate(0.01, 0.0, 0.02), Estimate(1.0, 0.9, 1.1)],
                                    "optimal denoiser": [Estimate(1.0, 1.0, 1.0), None]})
    assert r.raw_verdict == "FAIL" and [c.verdict for c in r.controls] == ["FAIL", "FAIL"]
    rows = r.control_rows()
    assert [row["setting"] for row in rows] == ["the claim", "control: fitted Gaussian", "control: optimal denoiser"]
    assert rows[2]["other parts"] == "quality index not measured" and rows[1]["verdict"] == "FAIL"


def test_the_claim_line_round_trips_with_controls_and_reason():
    r = claims.claim("C4d", [("change of the index across sigma_k in [0.06, 0.5] (3 sampler steps)",
                              Estimate(0.0307, 0.0268, 0.0346, 45, "3 training seeds x 15 draws"),
                              claims.Criterion("<", 0.1))],
                     {"optimal denoiser": Estimate(0.0, 0.0, 0.0, 15)}, precondition="97% decided at sigma_k 0.14")
    line = r.line()
    assert line.startswith("CLAIM C4d INCONCLUSIVE: change of the index") and "(3 training seeds x 15 draws)" in line
    parsed = claims.parse_claim_line(line)
    assert parsed.line == line and parsed.controls == [("optimal denoiser", "0 [0, 0]", "PASS")]
    assert parsed.reason.startswith("97% decided") and parsed.interval == ("0.0268", "0.0346")
    assert not parsed.controls_fail and parsed.empirical
    # a criterion with parentheses in it, no controls (a closed-form claim)
    line = claims.format_claim_line("C6c", "PASS", "ends / peak", "9.58e-06", "peak >= 1 point(s) inside the grid")
    assert claims.parse_claim_line(line).criterion == "peak >= 1 point(s) inside the grid"
    assert claims.parse_claim_line("CLAIM C4a PASS: no criterion = 1") is None
    with pytest.raises(ValueError):
        claims.format_claim_line("C4a", "MAYBE", "x", "1", "< 2")
