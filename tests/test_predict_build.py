"""The build-time prediction (benchmarks/predict_build.py): its schedule replay and the chapter
costs it reads."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def predict():
    spec = importlib.util.spec_from_file_location("predict_build", ROOT / "benchmarks" / "predict_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_makespan_is_list_scheduling_longest_first(predict):
    assert predict.makespan([5, 4, 3, 3, 3], 1) == 18
    # longest first on 2 workers: 5 | 4, then 3 -> 4+3=7, 3 -> 5+3=8, 3 -> 7+3=10
    assert predict.makespan([3, 3, 5, 3, 4], 2) == 10
    assert predict.makespan([7, 1, 1], 8) == 7  # bounded by the longest job
    assert predict.makespan([], 4) == 0


def test_chapters_cost_their_costliest_recorded_execution(predict, tmp_path, monkeypatch):
    """A chapter re-executed from the cache records a short papermill duration; the prediction
    must use the execution that computed its measurements."""
    book = tmp_path / "book"
    book.mkdir()
    for stem, meta in {"a": {"papermill": {"duration": 12.0}, "diffgen": {"longest_seconds": 800.0}},
                       "b": {"papermill": {"duration": 40.0}}}.items():
        (book / f"{stem}.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))
    monkeypatch.setattr(predict, "ROOT", tmp_path)
    monkeypatch.setattr(predict, "toc_chapters", lambda root: ["a", "b"])
    assert sorted(predict.chapter_seconds()) == [40.0, 800.0]
