"""The toy-model chapter's table rows."""

import numpy as np

from diffgen_lib.studies import toy_study, toy_tables


def test_angle_rows_read_the_gap_at_the_training_points():
    train = np.array([[1.0, 0.0], [-1.0, 0.0]])
    angles = np.array([0.0, 1.0, np.pi, 4.0])
    rows = toy_tables.angle_rows(angles, {0.5: np.array([0.0, 2.0, -3e-7, 1.0])}, train)
    assert rows == [{"delta": "0.5", "largest |gap| at the training points": "<1e-6", "largest gap on the circle": "2"}]


def test_delta_rows_mark_ends_that_are_round_off():
    rows = toy_tables.delta_rows({1.2: np.array([0.0, 0.4567, 1e-3])}, {1.2: {"peak_gap": 0.4567, "peak_sigma": 2.0}})
    assert rows == [{"delta": "1.2", "peak gap": "0.457", "at sigma": "2", "gap at sigma_max": "<1e-6",
                     "gap at sigma_min": "0.001"}]


def test_monte_carlo_rows_and_values():
    mc = toy_study.MonteCarloCheck(2.2, 0.5, {"paired": [0.3, 0.35, 0.31], "independent": [0.2, 0.4, 0.3]},
                                   {"paired": 0.0, "independent": 0.03})
    rows = toy_tables.monte_carlo_rows(mc, 500)
    assert rows[0]["peak gap (per seed)"] == "0.5" and rows[0]["spread"] == ""
    assert rows[1] == {"noise draws": "500 per point, paired val draws", "peak gap (per seed)": "0.3, 0.35, 0.31",
                       "spread": "0.05", "end |gap| up to": "<1e-6"}
    values = toy_tables.monte_carlo_values(mc)
    assert values["mc_delta"] == 2.2 and values["mc_new_peak"] == "0.3" and values["mc_spread_indep"] == "0.2"
    assert values["mc_indep_end_ratio"] == "0.1"  # 0.03 / mean(0.2, 0.4, 0.3)


def test_density_guidance_and_generated_rows():
    assert toy_tables.density_rows({8: {"peak_gap": 1.23456, "peak_sigma": 0.5}}) == [
        {"N train": 8, "peak gap": "1.23", "at sigma": "0.5"}]
    rows = toy_tables.guidance_rows({1.0: {"peak_gap": 2.0, "peak_sigma": 1.0}}, {1.0: 1.5}, {1.0: float("nan")})
    assert rows[0]["effective delta (same weight)"] == "1.5" and rows[0]["effective delta (same peak)"] == "nan"
    dist = toy_study.GeneratedDistances([0.0], np.array([1.0]), np.array([2.0]), 3.0, np.array([0.0]),
                                        np.array([0.5]), np.array([1.0]))
    assert toy_tables.generated_rows(dist) == [{"delta": "0", "FD gen-train": "1", "FD gen-val": "2",
                                                "NN train": "<1e-6", "NN val": "0.5", "exact recalls": "1"}]
