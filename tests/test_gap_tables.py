"""The training-gap chapter's table rows, from hand-made curves."""

import numpy as np

from diffgen_lib.measure.evaluation import GapCurves
from diffgen_lib.studies import gap_study, gap_tables
from diffgen_lib.studies.training_gap import Spacing


def _curves():
    """Two snapshots on three sigmas: gaps (val - train) / train of 0, 1, 0 then 0, 3, 1."""
    return GapCurves(sigmas=np.array([10.0, 1.0, 0.1]), steps=np.array([100, 200]),
                     train_error=np.array([[4.0, 1.0, 0.5], [4.0, 0.5, 0.01]]),
                     val_error=np.array([[4.0, 2.0, 0.5], [4.0, 2.0, 0.02]]), n_eval=7)


def test_snapshot_rows_read_every_snapshots_peak():
    c = _curves()
    rows = gap_tables.snapshot_rows(c, gap_study.peaks_of({"m": c})["m"], sd=0.5)
    assert rows[1] == {"step": 200, "peak gap": "3", "at sigma": "1", "sigma / sigma_data": "2", "E_train": "0.5",
                       "E_val": "2", "threshold": "1"}  # validation minimum: the first snapshot at sigma = 1
    assert [r["peak gap"] for r in rows] == ["1", "3"]


def test_seed_and_weights_rows_summarize_over_seeds():
    c = _curves()
    stats = gap_study.seed_statistics({0: c, 1: c}, peak_margin=1)
    row = gap_tables.seed_rows(stats, [0, 1])[0]
    assert row["grid point"] == 1 and row["gap at sigma_min / peak (abs.)"] == "0"  # gap[0] / peak, as C3 reads it
    assert row["gap at sigma_max / peak (abs.)"] == "0.333"
    assert row["rank correlation"] == "1"
    ema = {"c3": {0: dict(stats["c3"][0], peak=1.0), 1: dict(stats["c3"][1], peak=2.0)}, "rho": {0: 0.0, 1: 1.0}}
    rows = gap_tables.weights_rows({"raw": stats, "EMA": ema}, [0, 1])
    assert rows[0]["peak gap"] == "3 (3 .. 3)" and rows[1]["peak gap"] == "1.5 (1 .. 2)"
    assert rows[1]["rank correlation"] == "0.5"


def test_optimal_rows_pick_the_nearest_grid_points_once_each_and_mark_an_infinite_gap():
    c = _curves()
    optimal = GapCurves(sigmas=c.sigmas, steps=np.array([0]), train_error=np.array([[3.0, 0.2, 0.0]]),
                        val_error=np.array([[4.0, 3.0, 0.1]]), n_eval=7)
    rows = gap_tables.optimal_rows(c, optimal, (0.09, 1.1, 12.0))
    assert [r["sigma"] for r in rows] == ["0.1", "1", "10"]
    assert rows[0]["optimal, train"] == "<1e-6" and rows[0]["optimal gap"] == "inf"
    assert rows[1]["optimal gap"] == "14" and rows[1]["network gap"] == "3"


def test_spacing_width_seed_comparison_end_and_control_rows():
    sp = Spacing(dim=4, n_train=10, train_nn=2.0, val_nn=4.0, sigma_data=0.5)
    row = gap_tables.spacing_rows(sp, 1.0)[0]
    assert row["NN distance train-train"] == "2 (1 per pixel)" and row["peak sigma"] == "1 (2 sigma_data)"
    peaks = {(8, 0): {"peak_gap": np.array([1.0, 2.0])}, (32, 0): {"peak_gap": np.array([1.0, 5.0])}}
    assert gap_tables.width_seed_rows(peaks, 8, 32, [0]) == [{"training seed": 0, "width 8": "2", "width 32": "5",
                                                                "ratio": "2.5"}]
    c = _curves()
    rows = gap_tables.comparison_rows({"a": c}, gap_study.peaks_of({"a": c}), lambda k: f"run {k}")
    assert rows == [{"run": "run a", "peak gap by snapshot": "1 3", "peak sigma (last)": "1", "evaluation images": "7 + 7"}]
    ends = gap_tables.end_rows(c, [0, 2])
    assert ends[0]["E_train / sigma^2"] == "0.04" and ends[1]["gap by snapshot"] == "0 1"

    class Record:
        id = "C2a"

        def control_rows(self):
            return [{"setting": "the claim"}, {"setting": "control"}]

    rows = gap_tables.control_rows({"first": [Record()], "second": [Record()]}, {"first": "8x8", "second": "14x14"})
    assert [(r["scale"], r["setting"]) for r in rows] == [("8x8", "the claim"), ("8x8", "control"),
                                                          ("14x14", "the claim"), ("14x14", "control")]
